/**
 * The built pages (src/ui/dist, committed so that `npm ci && npm start` needs no build step) match their
 * sources: a fresh build into a temporary folder gives the same files, byte for byte. If this fails, run
 * `npm run ui:build` and commit src/ui/dist. Also: a Space page does not load the console's chart library.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const dist = path.resolve('src/ui/dist');

function files(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe('built front-end', () => {
  test('src/ui/dist is what the sources build to (run `npm run ui:build` after changing src/ui/web)', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'modelhost-ui-'));
    execFileSync(process.execPath, [path.resolve('node_modules/vite/bin/vite.js'), 'build', '-c', 'src/ui/vite.config.ts'], {
      // As `npm run ui:build` runs it: vitest's NODE_ENV=test would change the output.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', MODELHOST_UI_OUT: out },
      stdio: 'pipe',
    });
    const built = files(out).sort();
    expect(files(dist).sort()).toEqual(built);
    for (const f of built) expect(readFileSync(path.join(dist, f)).equals(readFileSync(path.join(out, f))), `${f} differs`).toBe(true);
  }, 120_000);

  test('a Space page loads only its own bundle (no chart library), and the console has its own', () => {
    const manifest = JSON.parse(readFileSync(path.join(dist, '.vite/manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[]; css?: string[] }>;
    const spaces = manifest['web/spaces.tsx']!;
    const consoleEntry = manifest['web/console.tsx']!;
    const spaceFiles = [spaces.file, ...(spaces.imports ?? []).map((i) => manifest[i]!.file)];
    for (const f of spaceFiles) expect(readFileSync(path.join(dist, f), 'utf8')).not.toMatch(/chart\.js|Chart\.register|chartjs/i);
    expect(readFileSync(path.join(dist, consoleEntry.file), 'utf8')).toMatch(/chart/i);
    const bytes = spaceFiles.reduce((n, f) => n + statSync(path.join(dist, f)).size, 0);
    expect(bytes).toBeGreaterThan(0);
  });
});
