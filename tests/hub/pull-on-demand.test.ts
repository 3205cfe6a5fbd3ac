/**
 * `serve --pull`: instance B pulls a model only A has on its first call, through a throttling proxy, and answers
 * like the Hub's serverless API does for a cold model.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startFaultProxy, type FaultProxy } from './fault-proxy.ts';
import { CALLS, call, tempCache } from './pull-helpers.ts';

const byId = (id: string) => CALLS.find((c) => c.id === id)!;

describe('serve --pull: pull on first call', () => {
  let a: TestServer;
  let b: TestServer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    // A: the tiny models, and one repo that has no weights at all.
    const models = mkdtempSync(path.join(tmpdir(), 'modelhost-on-demand-'));
    cpSync(path.join(TEST_MODELS_DIR, 'tiny'), path.join(models, 'tiny'), { recursive: true });
    mkdirSync(path.join(models, 'bare', 'no-weights'), { recursive: true });
    writeFileSync(path.join(models, 'bare', 'no-weights', 'README.md'), '---\npipeline_tag: text-classification\n---\n');
    writeFileSync(path.join(models, 'bare', 'no-weights', 'config.json'), '{"model_type": "bert"}');
    a = await startServer({ modelsDir: models, builtinModels: false, hfCache: false });
    proxy = await startFaultProxy(a.url);
    b = await startServer({
      modelsDir: mkdtempSync(path.join(tmpdir(), 'modelhost-empty-')),
      hfCache: tempCache(),
      pull: true,
      pullEndpoint: proxy.url,
      pullAllow: ['tiny/*', 'bare/*'],
      waitForModelByDefault: false,
    });
  });

  afterAll(async () => {
    await b?.close();
    await proxy?.close();
    await a?.close();
  });

  beforeEach(() => {
    proxy.faults = {};
    proxy.requests.length = 0;
  });

  it('answers 503 with an estimated_time within a factor of 2 of the real wait, then 200', async () => {
    // Slow enough that the download, not the load (whose time varies with the machine's load), is most of the wait.
    proxy.faults = { throttleBytesPerSecond: 60_000 };
    const c = byId('tiny/bert-sentiment');
    const first = await call(b.url, c);
    const answeredAt = performance.now();
    expect(first.status, JSON.stringify(first.json)).toBe(503);
    const estimate = (first.json as { estimated_time: number }).estimated_time;
    expect(first.json).toMatchObject({ error: 'Model tiny/bert-sentiment is currently loading' });
    let last = first;
    while (last.status === 503) {
      await sleep(100);
      last = await call(b.url, c);
    }
    const waited = (performance.now() - answeredAt) / 1000;
    expect(last.status, JSON.stringify(last.json)).toBe(200);
    expect(last.json).toEqual((await call(a.url, c)).json);
    expect(waited).toBeGreaterThan(1); // the throttle made it a real wait
    console.log(`pull on first call: estimated_time ${estimate} s, real wait ${waited.toFixed(2)} s`);
    expect(estimate, `estimated ${estimate} s, waited ${waited.toFixed(2)} s`).toBeGreaterThanOrEqual(waited / 2);
    expect(estimate, `estimated ${estimate} s, waited ${waited.toFixed(2)} s`).toBeLessThanOrEqual(waited * 2);
  });

  it('ten concurrent calls share one download', async () => {
    proxy.faults = { throttleBytesPerSecond: 400_000 };
    const c = byId('tiny/bert-ner');
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(b.url, c, { 'x-wait-for-model': 'true' })));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    const weights = proxy.requests.filter((r) => r.path.includes('/tiny/bert-ner/resolve/') && r.path.endsWith('/onnx/model.onnx'));
    expect(weights).toHaveLength(1);
    expect(proxy.requests.filter((r) => r.path.startsWith('/api/models/tiny/bert-ner/revision/'))).toHaveLength(1);
  });

  it('@huggingface/inference, which is held, gets its answer', async () => {
    proxy.faults = { throttleBytesPerSecond: 400_000 };
    const client = new InferenceClient(undefined, { endpointUrl: `${b.url}/models/tiny/bert-nli` });
    const out = await client.zeroShotClassification({ inputs: 'The phone will not start', parameters: { candidate_labels: ['urgent', 'not urgent'] } });
    const reference = (await call(a.url, byId('tiny/bert-nli'))).json as { labels: string[]; scores: number[] };
    // The client turns the API's {labels, scores} into a list of {label, score}.
    expect(out).toEqual(reference.labels.map((label, i) => ({ label, score: reference.scores[i] })));
  });

  it('answers at once 404 for a repo the Hub does not have or --pull-allow excludes, 400 for one without weights', async () => {
    const missing = await call(b.url, { id: 'tiny/no-such-model', body: { inputs: 'x' } });
    expect(missing.status).toBe(404);
    expect((missing.json as { error: string }).error).toBe(`Model tiny/no-such-model is not here, and ${proxy.url} has no such repository.`);
    const excluded = await call(b.url, { id: 'other/model', body: { inputs: 'x' } });
    expect(excluded.status).toBe(404);
    expect((excluded.json as { error: string }).error).toMatch(/may only pull models matching tiny\/\*, bare\/\* \(--pull-allow\)/);
    expect(proxy.requests.some((r) => r.path.includes('other/model'))).toBe(false);
    const bare = await call(b.url, { id: 'bare/no-weights', body: { inputs: 'x' } });
    expect(bare.status).toBe(400);
    expect((bare.json as { error: string }).error).toMatch(/^Model bare\/no-weights cannot run here: bare\/no-weights has no ONNX weights/);
  });
});
