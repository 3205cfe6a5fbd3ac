/**
 * The build (bin/build.js): it compiles a tree into runnable ESM, its staleness check sees every kind of change to
 * the sources (on a temporary copy of the project's build settings, never on the real tree), and the CLI runs from
 * the compiled JavaScript with no TypeScript loader in the process.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { build, staleReason } from '../bin/build.js';
import { REPO_ROOT } from './helpers/paths.ts';

/** Inside the repository (its .cache/ is gitignored), so the copy resolves typescript from the real node_modules. */
function tempProject(): string {
  mkdirSync(path.join(REPO_ROOT, '.cache'), { recursive: true });
  const root = mkdtempSync(path.join(REPO_ROOT, '.cache', 'build-test-'));
  for (const file of ['tsconfig.json', 'tsconfig.build.json', 'tools/tiny-models/tsconfig.build.json']) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, file), path.join(root, file));
  }
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  write('package.json', '{ "type": "module" }\n');
  write('src/main.ts', "import { word } from './words/word.ts';\nexport const answer: string = `hello ${word}`;\n");
  write('src/words/word.ts', "export const word: string = 'world';\n");
  write('src/ui/dist/app.js', '// built by vite\n');
  write('src/ui/samples/sample.txt', 'sample\n');
  write('tools/tiny-models/factory.ts', 'export const factory = (n: number): number => n * 2;\n');
  return root;
}

/** Edits a file and moves its mtime on, as an editor saving it a moment later would. */
function edit(file: string, text: string): void {
  writeFileSync(file, text);
  const later = new Date(Date.now() + 5000);
  utimesSync(file, later, later);
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

describe('the build', () => {
  it('compiles a tree into ESM that runs, with its relative imports rewritten to .js', async () => {
    const root = tempProject();
    roots.push(root);
    expect(staleReason(root)).toBe('there is no build yet');
    const res = await build({ root });
    expect(res).toMatchObject({ ok: true, compiled: 3 });
    expect(readFileSync(path.join(root, 'dist/main.js'), 'utf8')).toMatch(/from ["']\.\/words\/word\.js["']/);
    const main = (await import(pathToFileURL(path.join(root, 'dist/main.js')).href)) as { answer: string };
    expect(main.answer).toBe('hello world');
    const factory = (await import(pathToFileURL(path.join(root, 'dist/tools/tiny-models/factory.js')).href)) as { factory: (n: number) => number };
    expect(factory.factory(21)).toBe(42);
    // What compiled modules read beside themselves is linked to the sources, not copied.
    expect(lstatSync(path.join(root, 'dist/ui/dist')).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(root, 'dist/ui/samples/sample.txt'), 'utf8')).toBe('sample\n');
    expect(staleReason(root)).toBeUndefined();
  });

  it('finds an edited, added or deleted source, recompiles only what changed, and removes what was deleted', async () => {
    const root = tempProject();
    roots.push(root);
    await build({ root });

    edit(path.join(root, 'src/words/word.ts'), "export const word: string = 'again';\n");
    expect(staleReason(root)).toBe('src/words/word.ts changed since the last build');
    expect(await build({ root, ifStale: true })).toMatchObject({ ok: true, compiled: 1 });
    expect(readFileSync(path.join(root, 'dist/words/word.js'), 'utf8')).toContain("'again'");
    expect(staleReason(root)).toBeUndefined();
    // A current build is left alone.
    expect(await build({ root, ifStale: true })).toMatchObject({ ok: true, compiled: 0 });

    writeFileSync(path.join(root, 'src/extra.ts'), 'export const extra = 1;\n');
    expect(staleReason(root)).toBe('src/extra.ts changed since the last build');
    rmSync(path.join(root, 'src/words/word.ts'));
    expect(staleReason(root)).toBe('2 files changed since the last build');
    expect(await build({ root, ifStale: true })).toMatchObject({ ok: true, compiled: 1 });
    expect(existsSync(path.join(root, 'dist/extra.js'))).toBe(true);
    expect(existsSync(path.join(root, 'dist/words/word.js'))).toBe(false);
    expect(existsSync(path.join(root, 'dist/words/word.js.map'))).toBe(false);
  });

  it('compiles everything again when a build setting changes, and nothing for the front-end sources', async () => {
    const root = tempProject();
    roots.push(root);
    await build({ root });
    edit(path.join(root, 'src/ui/dist/app.js'), '// built again\n');
    expect(staleReason(root)).toBeUndefined();
    const settings = path.join(root, 'tsconfig.build.json');
    edit(settings, readFileSync(settings, 'utf8').replace('"sourceMap": true', '"sourceMap": false'));
    expect(staleReason(root)).toBe('tsconfig.build.json changed since the last build');
    expect(await build({ root, ifStale: true })).toMatchObject({ ok: true, compiled: 3 });
    expect(existsSync(path.join(root, 'dist/main.js.map'))).toBe(false);
  });
});

/** Runs the CLI with a module hook that writes down every module the process resolves; returns their URLs. */
function tracedCli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; modules: string[] } {
  const dir = mkdtempSync(path.join(REPO_ROOT, '.cache', 'build-trace-'));
  roots.push(dir);
  const trace = path.join(dir, 'modules.txt');
  writeFileSync(trace, '');
  writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const res = await next(specifier, context);\n  appendFileSync(${JSON.stringify(trace)}, res.url + '\\n');\n  return res;\n}\n`,
  );
  writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});\n`);
  const res = spawnSync(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, path.join(REPO_ROOT, 'bin', 'modelhost.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, modules: readFileSync(trace, 'utf8').split('\n').filter(Boolean) };
}

describe('modelhost from compiled JavaScript', () => {
  it('runs the CLI from dist/ with no TypeScript loader in the process', () => {
    const res = tracedCli(['models', 'list', '--json'], { MODELHOST_FROM_SOURCE: '' });
    expect(res.status, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual(expect.any(Array));
    expect(res.modules).toContain(pathToFileURL(path.join(REPO_ROOT, 'dist', 'cli', 'main.js')).href);
    expect(res.modules.filter((url) => url.includes('/node_modules/tsx/'))).toEqual([]);
    expect(res.modules.filter((url) => /\.tsx?$/.test(url))).toEqual([]);
  });

  it('runs the TypeScript sources through tsx when asked to (MODELHOST_FROM_SOURCE=1)', () => {
    const res = tracedCli(['--version'], { MODELHOST_FROM_SOURCE: '1' });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.modules).toContain(pathToFileURL(path.join(REPO_ROOT, 'src', 'cli', 'main.ts')).href);
    const compiled = `${pathToFileURL(path.join(REPO_ROOT, 'dist')).href}/`;
    expect(res.modules.filter((url) => url.startsWith(compiled))).toEqual([]);
  });
});
