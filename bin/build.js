#!/usr/bin/env node
/**
 * The build: `npm run build`, and `prepare`, so `npm ci` compiles once. It turns src/ into dist/ (tsconfig.build.json)
 * and the tiny-model factory into dist/tools/tiny-models/ (tools/tiny-models/tsconfig.build.json), one file at a time
 * with TypeScript's own transpiler and those configs' options: the same per-file compile tsx did on every start, done
 * once. Types are `npm run typecheck`'s to check (a whole-program emit spends ~8 s parsing the dependencies' type
 * definitions, which would make every rebuild after an edit that slow); `tsc -p tsconfig.build.json` emits the same.
 *
 * Staleness: dist/.build-stamp records the size and mtime of every file the build read. bin/modelhost.js compares
 * them with the tree (one stat per file: a few ms for ~250 files) and rebuilds what changed before it starts, so
 * someone who edits src/ and runs the CLI never runs the old code. Sizes and mtimes, not contents: an edit always
 * moves the mtime, and a touch without an edit costs one file's recompile.
 *
 * Plain JavaScript, because it has to run before anything is compiled.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The tsc projects the build compiles, each mapping its rootDir onto its outDir. */
const PROJECTS = ['tsconfig.build.json', 'tools/tiny-models/tsconfig.build.json'];
/** Folders whose files are the build's inputs, but for the browser front-end (Vite builds it). */
const SOURCE_DIRS = ['src', 'tools/tiny-models'];
const NOT_SOURCES = new Set(['src/ui/web', 'src/ui/dist', 'src/ui/samples']);
/** Inputs that change how every file compiles: when one changes, everything is compiled again. */
const SETTINGS = ['tsconfig.json', ...PROJECTS, 'bin/build.js'];
/**
 * What compiled modules read next to themselves (src/ui/server/assets.ts: the built front-end and the samples):
 * linked, not copied, so `npm run ui:build` needs no build after it.
 */
const LINKED = ['ui/dist', 'ui/samples'];

const STAMP = '.build-stamp';
const LOCK = '.build-lock';

function walk(root, rel, out) {
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = `${rel}/${entry.name}`;
    if (NOT_SOURCES.has(child)) continue;
    if (entry.isDirectory()) walk(root, child, out);
    else out.push(child);
  }
}

/** Every build input under `root` (path relative to it, with `/`), with its `size:mtime`. */
export function buildInputs(root = ROOT) {
  const files = SETTINGS.filter((f) => existsSync(path.join(root, f)));
  for (const dir of SOURCE_DIRS) if (existsSync(path.join(root, dir))) walk(root, dir, files);
  const inputs = {};
  for (const file of files.sort()) {
    const st = statSync(path.join(root, file));
    inputs[file] = `${st.size}:${st.mtimeMs}`;
  }
  return inputs;
}

function readStamp(outDir) {
  try {
    return JSON.parse(readFileSync(path.join(outDir, STAMP), 'utf8')).inputs;
  } catch {
    return undefined;
  }
}

/** The inputs that differ between two listings (added, removed or changed). */
function changed(before, now) {
  const out = [];
  for (const file of new Set([...Object.keys(before), ...Object.keys(now)])) if (before[file] !== now[file]) out.push(file);
  return out;
}

/** Why root/dist does not match the sources under `root` as they are now, or undefined when it does. */
export function staleReason(root = ROOT) {
  const built = readStamp(path.join(root, 'dist'));
  if (built === undefined) return 'there is no build yet';
  const diff = changed(built, buildInputs(root));
  if (diff.length === 0) return undefined;
  return diff.length === 1 ? `${diff[0]} changed since the last build` : `${diff.length} files changed since the last build`;
}

/** The TypeScript compiler module, or undefined when it is not installed (a production install without dev packages). */
export function loadTypeScript(root = ROOT) {
  try {
    return createRequire(path.join(root, 'package.json'))('typescript');
  } catch {
    return undefined;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * One build at a time per folder (a test runner starts several CLIs at once): the lock file holds the builder's pid,
 * and a lock whose process is gone is taken over.
 */
async function withLock(outDir, fn) {
  mkdirSync(outDir, { recursive: true });
  const lock = path.join(outDir, LOCK);
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released between the two calls
      }
      // An empty lock is one being written right now; a dead holder's is taken over.
      if (holder && !alive(holder)) rmSync(lock, { force: true });
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Writes through a temporary file, so a process starting meanwhile never imports half a module. */
function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** The project's sources and compiler options, and where each source's JavaScript goes. */
function readProject(ts, root, project) {
  const configPath = path.join(root, project);
  const diagnostics = [];
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => diagnostics.push(d) });
  if (!parsed || diagnostics.length || parsed.errors.length) {
    const all = [...diagnostics, ...(parsed?.errors ?? [])];
    throw new Error(`${project}: ${all.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
  }
  const { rootDir, outDir } = parsed.options;
  if (!rootDir || !outDir || path.relative(path.join(root, 'dist'), outDir).startsWith('..')) throw new Error(`${project} must set rootDir, and an outDir inside dist/`);
  // Every module here is ESM ("type": "module"); a lone file gives NodeNext no package.json to learn that from.
  const options = { ...parsed.options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, noEmit: false };
  const files = parsed.fileNames
    .filter((f) => !f.endsWith('.d.ts'))
    .map((source) => ({ source, rel: path.relative(root, source).split(path.sep).join('/'), out: path.join(outDir, path.relative(rootDir, source)).replace(/\.[cm]?tsx?$/, '.js') }));
  return { options, files };
}

function compileFile(ts, file, options) {
  const res = ts.transpileModule(readFileSync(file.source, 'utf8'), { compilerOptions: options, fileName: file.source, reportDiagnostics: true });
  mkdirSync(path.dirname(file.out), { recursive: true });
  if (res.sourceMapText) {
    const map = JSON.parse(res.sourceMapText);
    map.sources = [path.relative(path.dirname(file.out), file.source).split(path.sep).join('/')];
    writeAtomic(`${file.out}.map`, JSON.stringify(map));
  }
  writeAtomic(file.out, res.outputText);
  return (res.diagnostics ?? []).map((d) => `${file.rel}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

function linkTarget(link) {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}

/** Removes JavaScript (and maps) under `dir` that no source produces any more (a source was deleted or moved). */
function removeOrphans(dir, produced) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) removeOrphans(full, produced);
    else if (/\.js(\.map)?$/.test(entry.name) && !produced.has(full)) {
      rmSync(full, { force: true });
    }
  }
}

/**
 * Compiles what changed under `root` into root/dist (everything when there is no stamp yet, `full`, or a setting
 * changed) and stamps the result. Resolves to { ok, compiled, messages }; `ifStale` leaves a current build alone
 * (perhaps made by another process while this one waited for the lock).
 */
export async function build({ root = ROOT, ifStale = false, full = false } = {}) {
  const outDir = path.join(root, 'dist');
  const ts = loadTypeScript(root);
  if (!ts) return { ok: false, compiled: 0, messages: ['TypeScript is not installed (it is a dev dependency: npm install)'] };
  return withLock(outDir, () => {
    const before = readStamp(outDir);
    // Listed before compiling: a file saved during the build leaves the stamp behind it, so the next start rebuilds it.
    const inputs = buildInputs(root);
    if (ifStale && before && changed(before, inputs).length === 0) return { ok: true, compiled: 0, messages: [] };
    const everything = full || !before || SETTINGS.some((f) => before[f] !== inputs[f]);
    const messages = [];
    const produced = new Set();
    let compiled = 0;
    try {
      const projects = PROJECTS.map((p) => readProject(ts, root, p));
      for (const { options, files } of projects) {
        for (const file of files) {
          produced.add(file.out);
          if (options.sourceMap) produced.add(`${file.out}.map`);
          if (!everything && before[file.rel] === inputs[file.rel] && existsSync(file.out)) continue;
          messages.push(...compileFile(ts, file, options));
          compiled++;
        }
      }
    } catch (e) {
      return { ok: false, compiled, messages: [...messages, e instanceof Error ? e.message : String(e)] };
    }
    removeOrphans(outDir, produced);
    for (const rel of LINKED) {
      const link = path.join(outDir, rel);
      const target = path.relative(path.dirname(link), path.join(root, 'src', rel));
      if (linkTarget(link) === target) continue; // left in place: a running server may be reading through it
      rmSync(link, { recursive: true, force: true });
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(target, link);
    }
    writeAtomic(path.join(outDir, STAMP), `${JSON.stringify({ builtAt: new Date().toISOString(), inputs }, null, 1)}\n`);
    return { ok: true, compiled, messages };
  });
}

/**
 * Imports the compiled module `rel` (its path under dist/, without extension), compiling what changed first. Without
 * TypeScript, or when compiling fails, the sources run through tsx instead, with a warning.
 * MODELHOST_FROM_SOURCE=1 asks for tsx.
 */
export async function runCompiled(rel) {
  if (process.env.MODELHOST_FROM_SOURCE !== '1') {
    const why = staleReason();
    if (why === undefined) return import(pathToFileURL(path.join(ROOT, 'dist', `${rel}.js`)).href);
    const started = performance.now();
    // A build that cannot even start (dist/ not writable for this user) falls back like one that fails.
    const res = await build({ ifStale: true }).catch((e) => ({ ok: false, compiled: 0, messages: [e instanceof Error ? e.message : String(e)] }));
    if (res.ok) {
      // Said on a terminal only: scripts and tests that read the CLI's stderr see the same output either way.
      if (res.compiled > 0 && process.stderr.isTTY) process.stderr.write(`modelhost: ${why}: compiled ${res.compiled} file(s) in ${Math.round(performance.now() - started)} ms\n`);
      return import(pathToFileURL(path.join(ROOT, 'dist', `${rel}.js`)).href);
    }
    process.stderr.write(`modelhost: could not compile (${res.messages.join('; ')}); running the sources through tsx\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(ROOT, rel.startsWith('tools/') ? '' : 'src', `${rel}.ts`)).href);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    process.stdout.write(
      'Usage: node bin/build.js [--full] [--if-typescript]   (npm run build)\n\n' +
        'Compiles src/ into dist/ and tools/tiny-models/ into dist/tools/tiny-models/, the files that changed since the\n' +
        'last build, and stamps the result so bin/modelhost.js knows when the sources change again. Types are not\n' +
        'checked here: npm run typecheck.\n\n' +
        '  --full           compile every file\n' +
        '  --if-typescript  succeed without building when TypeScript is not installed (prepare, in a production install)\n',
    );
  } else if (args.includes('--if-typescript') && !loadTypeScript()) {
    process.stdout.write('modelhost build: TypeScript is not installed; bin/modelhost.js will run the sources through tsx\n');
  } else {
    const started = performance.now();
    const res = await build({ full: args.includes('--full') });
    for (const m of res.messages) process.stderr.write(`${m}\n`);
    if (res.ok) process.stdout.write(`modelhost build: ${res.compiled} file(s) compiled into dist/ in ${Math.round(performance.now() - started)} ms\n`);
    else process.exitCode = 1;
  }
}
