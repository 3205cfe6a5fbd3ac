import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import type { TestServer } from '../helpers/server.ts';
import { api, call, startEndpointServer } from './helpers.ts';

let s: TestServer;
beforeAll(async () => {
  // A model repository with a good model and a copy of it whose weights are corrupt.
  const dir = mkdtempSync(path.join(tmpdir(), 'modelhost-broken-models-'));
  cpSync(path.join(TEST_MODELS_DIR, 'tiny', 'bert-sentiment'), path.join(dir, 'tiny', 'bert-sentiment'), { recursive: true });
  cpSync(path.join(TEST_MODELS_DIR, 'tiny', 'bert-sentiment'), path.join(dir, 'tiny', 'broken'), { recursive: true });
  writeFileSync(path.join(dir, 'tiny', 'broken', 'onnx', 'model.onnx'), 'not an onnx graph');
  s = await startEndpointServer({ modelsDir: dir });
});
afterAll(async () => {
  await s?.close();
});

describe('an update that cannot start', () => {
  it('ends in updateFailed while the previous configuration keeps serving', async () => {
    const a = api(s);
    await a.create({ name: 'steady', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('steady', 'running');
    const before = await call(s, 'steady', { inputs: 'good news' });
    const [pid] = ((await a.metrics('steady')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect((await a.update('steady', { model: { repository: 'tiny/broken' } })).status).toBe(200);
    const failed = await a.until('steady', 'updateFailed', 1);
    expect(failed.status.message).toMatch(/Update failed: .*previous configuration still serves/);
    expect(failed.model.repository).toBe('tiny/broken'); // the wanted configuration is kept, to fix or retry
    const during = await call(s, 'steady', { inputs: 'good news' });
    expect(during.status).toBe(200);
    expect(during.json).toEqual(before.json);
    expect(((await a.metrics('steady')).json.replicaList as { pid: number }[]).map((r) => r.pid)).toEqual([pid]);
    expect((await a.logs('steady')).text).toMatch(/could not load the model/);
    // Updating again (back to a good model) rolls and runs.
    expect((await a.update('steady', { model: { repository: 'tiny/bert-sentiment', revision: 'fixed' } })).status).toBe(200);
    const fixed = await a.until('steady', 'running');
    expect(fixed.model.revision).toBe('fixed');
    expect((await call(s, 'steady', { inputs: 'good news' })).json).toEqual(before.json);
  });

  it('an endpoint whose model cannot load ends failed, with the reason in its message', async () => {
    const a = api(s);
    await a.create({ name: 'doomed', type: 'public', model: { repository: 'tiny/broken' } });
    const failed = await a.until('doomed', 'failed', 0);
    expect(failed.status.message).toMatch(/failed to start/);
    const r = await call(s, 'doomed', { inputs: 'x' });
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(/has failed/);
  });
});

describe('a replica over its memory budget', () => {
  it('is stopped and the endpoint says why', async () => {
    const a = api(s);
    // 128 MB is below what any Node process with onnxruntime holds: every replica goes over it.
    await a.create({ name: 'greedy', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { memoryMb: 128 } });
    await expect
      .poll(async () => (await a.logs('greedy')).text, { timeout: 30_000, interval: 200 })
      .toMatch(/used \d+ MB, over its memory budget of 128 MB \(compute\.memoryMb\)/);
    await expect.poll(async () => (await a.metrics('greedy')).json.crashes, { timeout: 30_000, interval: 200 }).toBeGreaterThan(0);
    await a.remove('greedy');
  });
});
