/**
 * `modelhost pull` between two modelhost instances on loopback: A serves the tiny models as a Hub, B pulls each
 * of them with the CLI into its own HF cache and serves them. Also `models list` / `models rm`, and the
 * one-line errors for what cannot be pulled.
 */
import { mkdtempSync, readFileSync, readdirSync, realpathSync, lstatSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { CALLS, call, modelhost, tempCache } from './pull-helpers.ts';

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? walk(path.join(dir, e.name), rel) : [rel];
  });
}

describe('modelhost pull: mirror chain A -> B', () => {
  let a: TestServer;
  let b: TestServer;
  const cacheDir = tempCache();

  beforeAll(async () => {
    a = await startServer({ hfCache: false });
    for (const c of CALLS) {
      const run = await modelhost(['pull', c.id, '--endpoint', a.url, '--no-progress'], cacheDir);
      expect(run.code, `${c.id}: ${run.stderr}`).toBe(0);
    }
    b = await startServer({ modelsDir: mkdtempSync(path.join(tmpdir(), 'modelhost-empty-')), hfCache: cacheDir });
  }, 300_000);

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('lays the files out as models--org--name with blobs, snapshot links and refs/main, byte-identical to A', () => {
    for (const c of CALLS) {
      const repoDir = path.join(cacheDir, `models--${c.id.replace('/', '--')}`);
      const commit = readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8');
      expect(commit).toMatch(/^[0-9a-f]{40}$/);
      const snapshot = path.join(repoDir, 'snapshots', commit);
      const source = path.join(TEST_MODELS_DIR, c.id);
      const pulled = walk(snapshot).sort();
      // Everything the runtime reads came (the generator's stamp file is not a repo file).
      expect(pulled).toEqual(walk(source).filter((f) => !f.startsWith('.')).sort());
      for (const f of pulled) {
        const link = path.join(snapshot, f);
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(path.dirname(realpathSync(link))).toBe(realpathSync(path.join(repoDir, 'blobs')));
        expect(readFileSync(link).equals(readFileSync(path.join(source, f))), `${c.id}/${f}`).toBe(true);
      }
      expect(readdirSync(path.join(repoDir, 'blobs')).some((n) => n.endsWith('.incomplete'))).toBe(false);
    }
  });

  it('is read by @huggingface/hub scanCacheDir', async () => {
    const scanned = await scanCacheDir(cacheDir);
    expect(scanned.warnings).toEqual([]);
    expect(scanned.repos.map((r) => r.id.name).sort()).toEqual(CALLS.map((c) => c.id).sort());
    const sentiment = scanned.repos.find((r) => r.id.name === 'tiny/bert-sentiment')!;
    expect(sentiment.revisions[0]!.refs).toEqual(['main']);
  });

  it("B serves every pulled model, answering as A does", async () => {
    for (const c of CALLS) {
      const [fromA, fromB] = [await call(a.url, c), await call(b.url, c)];
      expect(fromA.status, JSON.stringify(fromA.json)).toBe(200);
      expect(fromB.status, JSON.stringify(fromB.json)).toBe(200);
      expect(fromB.json, c.id).toEqual(fromA.json);
    }
  });

  it('pulling again fetches nothing', async () => {
    const run = await modelhost(['pull', 'tiny/bert-sentiment', '--endpoint', a.url, '--no-progress'], cacheDir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/0 B fetched/);
    expect(run.stdout).toMatch(/6 already here/);
  });

  it('models list shows cached models with revision, size and whether they run; models rm removes one', async () => {
    const listed = await modelhost(['models', 'list', '--json', '--models-dir', mkdtempSync(path.join(tmpdir(), 'modelhost-empty-'))], cacheDir);
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as { id: string; source: string; runnable?: boolean; size_bytes: number; revisions?: { refs: string[] }[] }[];
    const gpt2 = rows.find((r) => r.id === 'tiny/gpt2' && r.source === 'hf-cache');
    expect(gpt2).toMatchObject({ runnable: true, revisions: [{ refs: ['main'] }] });
    expect(gpt2!.size_bytes).toBeGreaterThan(readFileSync(path.join(TEST_MODELS_DIR, 'tiny/gpt2/onnx/model.onnx')).length);

    const table = await modelhost(['models', 'list'], cacheDir);
    expect(table.stdout).toMatch(/tiny\/vit\s+main@[0-9a-f]{12}\s+[\d.]+ kB\s+yes \(image-classification\)/);

    const rm = await modelhost(['models', 'rm', 'tiny/vit'], cacheDir);
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(path.join(cacheDir, 'models--tiny--vit'))).toBe(false);
    const again = await modelhost(['models', 'rm', 'tiny/vit'], cacheDir);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(/^modelhost models rm: tiny\/vit is not in the HF cache/);
  });

  it('says in one line why a repo, revision or file cannot be pulled', async () => {
    const other = tempCache();
    const cases: [string[], RegExp][] = [
      [['pull', 'tiny/no-such-model'], /repository tiny\/no-such-model not found/],
      [['pull', 'tiny/bert-sentiment@v9'], /revision v9 not found in tiny\/bert-sentiment/],
      [['pull', 'tiny/bert-sentiment', '--include', 'vocab.bin'], /no file in tiny\/bert-sentiment matches --include vocab\.bin/],
      [['pull', 'tiny/bert-sentiment', '--dtype', 'q4'], /tiny\/bert-sentiment has no q4 ONNX weights \(it has: fp32\)/],
      [['pull', '../etc'], /is not a Hub repo id/],
    ];
    for (const [args, message] of cases) {
      const run = await modelhost([...args, '--endpoint', a.url, '--no-progress'], other);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
  });
});
