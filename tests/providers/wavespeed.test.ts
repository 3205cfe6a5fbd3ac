/**
 * Contract tests for the WaveSpeed adapter against the local WaveSpeed simulator: the task request WaveSpeed
 * expects, the envelope and its task statuses, sync mode's three endings, base64 output, and every failure
 * mapped to the UpstreamError kind the router acts on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, failure, textToImageCall } from '../helpers/providers.ts';
import { createWavespeedAdapter } from '../../src/providers/wavespeed.ts';
import { fakeImagePng } from '../../src/simulate/fake-models.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import type { FaultPlanInput } from '../../src/simulate/fault-plan.ts';
import { createWavespeedSimulator, type WavespeedSimulatorOptions } from '../../src/simulate/wavespeed.ts';

const TOKEN = 'ws-test-key';
const SUBMIT = 'POST /api/v3/*';
const RESULT = 'GET /api/v3/predictions/:id/result';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sims: Simulator[] = [];
async function startSim(plan: FaultPlanInput = {}, extra: Omit<WavespeedSimulatorOptions, 'plan' | 'token'> = {}): Promise<Simulator> {
  const { app, sim } = createWavespeedSimulator({ plan: { latencyMs: { mean: 15 }, ...plan }, token: TOKEN, ...extra });
  const s = await listen(app, sim);
  sims.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

function adapter(sim: Simulator, options: Record<string, unknown> = {}, apiKey = TOKEN) {
  return createWavespeedAdapter({
    name: 'wavespeed',
    type: 'wavespeed',
    baseUrl: `${sim.url}/api/v3`,
    apiKey,
    timeouts: { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 5_000 },
    options: { pollIntervalMs: 10, ...options },
  });
}

describe('WaveSpeed adapter: requests and outputs', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSim({ latencyMs: { mean: 40, distribution: 'fixed' } });
  });

  it('submits the task, polls urls.get until completed and answers the image bytes', async () => {
    const a = adapter(sim);
    const params = { width: 48, height: 32, seed: 3, num_inference_steps: 4, guidance_scale: 2 };
    const result = bytesOf(await a.call(textToImageCall('wavespeed-ai/flux-dev', 'a red fox', params)));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('a red fox', 48, 32))).toBe(true);
    expect(result.contentType).toBe('image/png');
    expect(result.usage).toEqual({ outputs: 1, megapixels: (48 * 32) / 1e6, computeSeconds: 0.04 });

    const submit = sim.sim.stats.last[SUBMIT]!;
    expect(submit.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(submit.body).toEqual({ prompt: 'a red fox', size: '48*32', seed: 3, num_inference_steps: 4, guidance_scale: 2 });
    expect(sim.sim.stats.byRoute[RESULT]).toBeGreaterThanOrEqual(1);
    expect(sim.sim.stats.last[RESULT]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await a.close?.();
  });

  it('asks for bare base64 with base64Output and decodes it; megapixels from the PNG when no size was set', async () => {
    const result = bytesOf(await adapter(sim, { base64Output: true }).call(textToImageCall('wavespeed-ai/flux-dev', 'b64')));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('b64', 64, 64))).toBe(true);
    expect(result.usage?.megapixels).toBe((64 * 64) / 1e6);
    expect((sim.sim.stats.last[SUBMIT]!.body as Record<string, unknown>).enable_base64_output).toBe(true);
  });

  it('sync mode: one request answers the completed task, no polling', async () => {
    const s = await startSim({ latencyMs: { mean: 30 } });
    const result = bytesOf(await adapter(s, { syncMode: true }).call(textToImageCall('wavespeed-ai/flux-dev', 'sync', { width: 20, height: 20 })));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('sync', 20, 20))).toBe(true);
    expect((s.sim.stats.last[SUBMIT]!.body as Record<string, unknown>).enable_sync_mode).toBe(true);
    expect(s.sim.stats.byRoute[RESULT]).toBeUndefined();
  });

  it('sync mode: a "Sync mode timed out" 5004 task is followed by polling to the result', async () => {
    const s = await startSim({ latencyMs: { mean: 120, distribution: 'fixed' } }, { syncLimitMs: 20, syncTimeout: '5004' });
    const result = bytesOf(await adapter(s, { syncMode: true }).call(textToImageCall('wavespeed-ai/flux-dev', 'late')));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('late'))).toBe(true);
    expect(s.sim.stats.faults.sync_timeout).toBe(1);
    expect(s.sim.stats.byRoute[RESULT]).toBeGreaterThanOrEqual(1);
    expect(s.sim.stats.creates).toBe(1);
  });

  it('sync mode: a gateway 504 → timeout', async () => {
    const s = await startSim({ latencyMs: { mean: 200, distribution: 'fixed' } }, { syncLimitMs: 20, syncTimeout: '504' });
    const e = await failure(adapter(s, { syncMode: true }).call(textToImageCall('wavespeed-ai/flux-dev', 'late')));
    expect(e.failure).toBe('timeout');
    expect(e.upstreamStatus).toBe(504);
  });

  it('supports only text-to-image tasks', () => {
    const a = adapter(sim);
    expect(a.supports('task', 'text-to-image')).toBe(true);
    expect(a.supports('task', 'text-to-video')).toBe(false);
    expect(a.supports('chat', 'conversational')).toBe(false);
  });
});

describe('WaveSpeed adapter: HTTP failures', () => {
  const cases: Array<[string, FaultPlanInput, string, number | undefined]> = [
    ['HTTP 500', { errorRate: 1 }, 'server', 500],
    ['outage 503', { outage: '503' }, 'server', 503],
    ['HTTP 400', { errorRate: 1, errorStatus: 400 }, 'invalid_input', 400],
  ];
  for (const [label, plan, kind, status] of cases) {
    it(`${label} → ${kind}`, async () => {
      const e = await failure(adapter(await startSim(plan)).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
      expect(e.failure).toBe(kind);
      expect(e.upstreamStatus).toBe(status);
    });
  }

  it('429 with Retry-After → rate_limited with retryAfterMs', async () => {
    const e = await failure(adapter(await startSim({ rateLimitRate: 1, retryAfterSeconds: 3 })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(3000);
  });

  it('429 without Retry-After → rate_limited without retryAfterMs', async () => {
    const e = await failure(adapter(await startSim({ rateLimitRate: 1, retryAfterSeconds: null })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('a wrong key → 401 → provider_config', async () => {
    const e = await failure(adapter(await startSim(), {}, 'wrong').call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('provider_config');
    expect(e.upstreamStatus).toBe(401);
  });

  it('a parameter WaveSpeed refuses on submit → invalid_input', async () => {
    const e = await failure(adapter(await startSim()).call(textToImageCall('wavespeed-ai/flux-dev', 'p', { size: 'big' })));
    expect(e.failure).toBe('invalid_input');
    expect(e.message).toContain('width*height');
  });

  it('a hung submit → timeout', async () => {
    expect((await failure(adapter(await startSim({ hangRate: 1 })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')))).failure).toBe('timeout');
  });

  it('a reset connection → connect or stream_cut', async () => {
    const e = await failure(adapter(await startSim({ outage: 'reset' })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(['connect', 'stream_cut']).toContain(e.failure);
  });

  it('a malformed answer → malformed (truncated JSON or no outputs)', async () => {
    const s = await startSim({ malformedRate: 1 });
    for (let i = 0; i < 4; i++) expect((await failure(adapter(s).call(textToImageCall('wavespeed-ai/flux-dev', `p${i}`)))).failure).toBe('malformed');
  });
});

describe('WaveSpeed adapter: envelope codes inside HTTP 200', () => {
  it('code 429 → rate_limited (Retry-After kept), code 500 → server, code 401 → provider_config', async () => {
    const cases: Array<[FaultPlanInput, string, number]> = [
      [{ rateLimitRate: 1, retryAfterSeconds: 1 }, 'rate_limited', 429],
      [{ errorRate: 1 }, 'server', 500],
    ];
    for (const [plan, kind, code] of cases) {
      const s = await startSim(plan, { errorsInEnvelope: true });
      const res = await fetch(`${s.url}/api/v3/wavespeed-ai/flux-dev`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{"prompt":"x"}',
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { code: number }).code).toBe(code);
      const e = await failure(adapter(s).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
      expect(e.failure).toBe(kind);
      expect(e.upstreamStatus).toBe(code);
      if (code === 429) expect(e.retryAfterMs).toBe(1000);
    }
    const s = await startSim({}, { errorsInEnvelope: true });
    const e = await failure(adapter(s, {}, 'wrong').call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect([e.failure, e.upstreamStatus]).toEqual(['provider_config', 401]);
  });
});

describe('WaveSpeed adapter: task failures', () => {
  it('jobFailRate: status failed with a task error code → job_failed naming the code', async () => {
    const e = await failure(adapter(await startSim({ jobFailRate: 1 })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('job_failed');
    expect(e.message).toMatch(/failed \(code 14(03|05)\)/);
    expect(e.retrySame).toBe(true);
  });

  it('failAfterCompleteRate: the platform fails the task after the run → job_failed with a 5xxx code', async () => {
    const e = await failure(adapter(await startSim({ failAfterCompleteRate: 1 })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('job_failed');
    expect(e.message).toMatch(/code 500[03]/);
  });

  it('an invalid parameter found by the task (1401) → job_failed, not retried on WaveSpeed', async () => {
    const e = await failure(adapter(await startSim()).call(textToImageCall('wavespeed-ai/flux-dev', 'p', { width: 5000, height: 64 })));
    expect(e.failure).toBe('job_failed');
    expect(e.message).toContain('code 1401');
    expect(e.retrySame).toBe(false);
  });

  it('an expired output URL → artifact_expired', async () => {
    const e = await failure(adapter(await startSim({ urlTtlMs: 0 })).call(textToImageCall('wavespeed-ai/flux-dev', 'p')));
    expect(e.failure).toBe('artifact_expired');
    expect(e.upstreamStatus).toBe(404);
  });

  it('a result poll that keeps failing → server after a few tries; one 503 is retried through', async () => {
    let fail = 1;
    const { app, sim } = createWavespeedSimulator({ plan: { latencyMs: { mean: 15 } }, token: TOKEN });
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'GET' && request.url.endsWith('/result') && fail-- > 0) {
        return reply.code(503).send({ code: 503, message: 'busy', data: null });
      }
    });
    const flaky = await listen(app, sim);
    sims.push(flaky);
    const result = bytesOf(await adapter(flaky).call(textToImageCall('wavespeed-ai/flux-dev', 'flaky')));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('flaky'))).toBe(true);

    fail = 100;
    const e = await failure(adapter(flaky).call(textToImageCall('wavespeed-ai/flux-dev', 'down')));
    expect(e.failure).toBe('server');
    expect(e.upstreamStatus).toBe(503);
  });

  it('abort stops polling at once', async () => {
    const s = await startSim({ latencyMs: { mean: 2_000, distribution: 'fixed' } });
    const controller = new AbortController();
    const pending = adapter(s).call(textToImageCall('wavespeed-ai/flux-dev', 'slow', {}, controller.signal));
    await sleep(60);
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    // A poll already on the wire when the caller left may still arrive; after that, none.
    await sleep(20);
    const polls = s.sim.stats.byRoute[RESULT] ?? 0;
    expect(polls).toBeGreaterThanOrEqual(1);
    await sleep(60);
    expect(s.sim.stats.byRoute[RESULT] ?? 0).toBe(polls);
  });
});

describe('WaveSpeed simulator', () => {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const post = async (s: Simulator, path: string, body: unknown) => {
    const res = await fetch(`${s.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('answers the envelope on both result paths and walks created → processing → completed', async () => {
    const s = await startSim({ latencyMs: { mean: 150, distribution: 'fixed' } }, { concurrency: 1 });
    const first = await post(s, '/api/v3/wavespeed-ai/flux-dev', { prompt: 'one' });
    const second = await post(s, '/api/v3/wavespeed-ai/flux-dev', { prompt: 'two' });
    expect(first.body).toMatchObject({ code: 200, message: 'success', data: { status: 'created', outputs: [] } });
    expect(first.body.data.urls.get).toBe(`${s.url}/api/v3/predictions/${first.body.data.id}/result`);
    const read = async (path: string) => ((await (await fetch(`${s.url}${path}`, { headers })).json()) as Record<string, any>).data; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect((await read(`/api/v3/predictions/${first.body.data.id}/result`)).status).toBe('processing');
    expect((await read(`/api/v3/predictions/${second.body.data.id}`)).status).toBe('created');
    await sleep(400);
    const done = await read(`/api/v3/predictions/${second.body.data.id}`);
    expect(done).toMatchObject({ status: 'completed', timings: { inference: 150 }, has_nsfw_contents: [false] });
    const file = await fetch(done.outputs[0]);
    expect(Buffer.from(await file.arrayBuffer()).equals(fakeImagePng('two'))).toBe(true);
    expect(s.sim.stats.creates).toBe(2);
  });

  it('refuses base64 output with a webhook (400) and unknown tasks (404)', async () => {
    const s = await startSim();
    const refused = await post(s, '/api/v3/wavespeed-ai/flux-dev?webhook=https://example.invalid/hook', { prompt: 'x', enable_base64_output: true });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/does not support base64/);
    const missing = await fetch(`${s.url}/api/v3/predictions/nope/result`, { headers });
    expect(missing.status).toBe(404);
    expect(s.sim.stats.creates).toBe(0);
  });
});
