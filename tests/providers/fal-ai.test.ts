/**
 * Contract tests for the fal.ai adapter against the local fal queue simulator: the request fal expects, the
 * image normalised to bytes, and every failure mapped to the UpstreamError kind the router acts on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, failure, textToImageCall } from '../helpers/providers.ts';
import { createFalAdapter } from '../../src/providers/fal-ai.ts';
import { fakeImagePng } from '../../src/simulate/fake-models.ts';
import { createFalSimulator, type FalSimulatorOptions } from '../../src/simulate/fal-ai.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import type { FaultPlanInput } from '../../src/simulate/fault-plan.ts';

const TOKEN = 'fal-test-key';
const SUBMIT = 'POST /:owner/:app/*';
const STATUS = 'GET /:owner/:app/requests/:id/status';
const RESULT = 'GET /:owner/:app/requests/:id';
const CANCEL = 'PUT /:owner/:app/requests/:id/cancel';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sims: Simulator[] = [];
async function startSim(plan: FaultPlanInput = {}, extra: Omit<FalSimulatorOptions, 'plan' | 'token'> = {}): Promise<Simulator> {
  const { app, sim } = createFalSimulator({ plan: { latencyMs: { mean: 15 }, ...plan }, token: TOKEN, ...extra });
  const s = await listen(app, sim);
  sims.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

function adapter(sim: Simulator, options: Record<string, unknown> = {}, apiKey = TOKEN) {
  return createFalAdapter({
    name: 'fal',
    type: 'fal-ai',
    baseUrl: sim.url,
    apiKey,
    timeouts: { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 5_000 },
    options: { pollIntervalMs: 10, ...options },
  });
}

describe('fal.ai adapter: requests and outputs', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSim({ latencyMs: { mean: 30, distribution: 'fixed' } });
  });

  it('submits the fal input at the sub-path, polls the returned URLs and answers the image bytes', async () => {
    const a = adapter(sim);
    const params = { width: 40, height: 24, num_inference_steps: 4, guidance_scale: 3.5, negative_prompt: 'blurry', seed: 7 };
    const result = bytesOf(await a.call(textToImageCall('fal-ai/flux/dev', 'a red fox', params)));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('a red fox', 40, 24))).toBe(true);
    expect(result.contentType).toBe('image/png');
    expect(result.usage).toEqual({ outputs: 1, megapixels: (40 * 24) / 1e6, computeSeconds: 0.03 });

    const submit = sim.sim.stats.last[SUBMIT]!;
    expect(submit.headers.authorization).toBe(`Key ${TOKEN}`);
    expect(submit.headers['content-type']).toBe('application/json');
    expect(submit.body).toEqual({
      prompt: 'a red fox',
      image_size: { width: 40, height: 24 },
      num_inference_steps: 4,
      guidance_scale: 3.5,
      negative_prompt: 'blurry',
      seed: 7,
    });
    // Status and result were read at /fal-ai/flux/requests/..., without the /dev sub-path.
    expect(sim.sim.stats.byRoute[STATUS]).toBeGreaterThanOrEqual(1);
    expect(sim.sim.stats.byRoute[RESULT]).toBe(1);
    expect(sim.sim.stats.last[STATUS]!.headers.authorization).toBe(`Key ${TOKEN}`);
    await a.close?.();
  });

  it('asks for a data URI with dataUriOutput and decodes it', async () => {
    const a = adapter(sim, { dataUriOutput: true });
    const result = bytesOf(await a.call(textToImageCall('fal-ai/flux/dev', 'inline', { width: 16, height: 16 })));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('inline', 16, 16))).toBe(true);
    expect((sim.sim.stats.last[SUBMIT]!.body as { sync_mode?: boolean }).sync_mode).toBe(true);
    await a.close?.();
  });

  it('supports only text-to-image tasks', () => {
    const a = adapter(sim);
    expect(a.supports('task', 'text-to-image')).toBe(true);
    expect(a.supports('task', 'text-generation')).toBe(false);
    expect(a.supports('chat', 'conversational')).toBe(false);
  });

  it('refuses a prompt that is not text without calling fal', async () => {
    const creates = sim.sim.stats.creates;
    const call = { ...textToImageCall('fal-ai/flux/dev', 'x'), body: { inputs: 42 } };
    expect((await failure(adapter(sim).call(call))).failure).toBe('invalid_input');
    expect(sim.sim.stats.creates).toBe(creates);
  });
});

describe('fal.ai adapter: request-level failures on submit', () => {
  const cases: Array<[string, FaultPlanInput, string, number | undefined]> = [
    ['HTTP 500', { errorRate: 1 }, 'server', 500],
    ['outage 503', { outage: '503' }, 'server', 503],
    ['HTTP 422 from the queue', { errorRate: 1, errorStatus: 422 }, 'invalid_input', 422],
    ['HTTP 400', { errorRate: 1, errorStatus: 400 }, 'invalid_input', 400],
  ];
  for (const [label, plan, kind, status] of cases) {
    it(`${label} → ${kind}`, async () => {
      const s = await startSim(plan);
      const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
      expect(e.failure).toBe(kind);
      expect(e.upstreamStatus).toBe(status);
    });
  }

  it('429 with Retry-After → rate_limited with retryAfterMs', async () => {
    const s = await startSim({ rateLimitRate: 1, retryAfterSeconds: 2 });
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBe(2000);
  });

  it('429 without Retry-After → rate_limited without retryAfterMs', async () => {
    const s = await startSim({ rateLimitRate: 1, retryAfterSeconds: null });
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('rate_limited');
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('a wrong key → 401 → provider_config', async () => {
    const s = await startSim();
    const e = await failure(adapter(s, {}, 'wrong').call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('provider_config');
    expect(e.upstreamStatus).toBe(401);
  });

  it('a hung submit → timeout', async () => {
    const s = await startSim({ hangRate: 1 });
    expect((await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')))).failure).toBe('timeout');
  });

  it('a reset connection → connect or stream_cut', async () => {
    const s = await startSim({ outage: 'reset' });
    expect(['connect', 'stream_cut']).toContain((await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')))).failure);
  });

  it('a refused connection → connect', async () => {
    const { app, sim } = createFalSimulator();
    const { url } = await listen(app, sim);
    await app.close();
    const a = createFalAdapter({
      name: 'fal',
      type: 'fal-ai',
      baseUrl: url,
      apiKey: TOKEN,
      timeouts: { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 5_000 },
      options: {},
    });
    expect((await failure(a.call(textToImageCall('fal-ai/flux/dev', 'p')))).failure).toBe('connect');
  });
});

describe('fal.ai adapter: job failures after COMPLETED', () => {
  it('jobFailRate: COMPLETED then a 422 about the run → job_failed, not retried on fal', async () => {
    const s = await startSim({ jobFailRate: 1 });
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('job_failed');
    expect(e.upstreamStatus).toBe(422);
    expect(e.retrySame).toBe(false);
    expect(e.failover).toBe(true);
  });

  it('failAfterCompleteRate: COMPLETED then a 500 result → job_failed, retried', async () => {
    const s = await startSim({ failAfterCompleteRate: 1 });
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('job_failed');
    expect(e.upstreamStatus).toBe(500);
    expect(e.retrySame).toBe(true);
  });

  it('a 422 naming an input field → invalid_input', async () => {
    const s = await startSim();
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p', { width: 4096, height: 64 })));
    expect(e.failure).toBe('invalid_input');
    expect(e.upstreamStatus).toBe(422);
    expect(e.message).toContain('body.image_size.width');
  });

  it('a malformed result → malformed (truncated JSON or no images)', async () => {
    const s = await startSim({ malformedRate: 1 });
    for (let i = 0; i < 4; i++) expect((await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', `p${i}`)))).failure).toBe('malformed');
  });

  it('an expired output URL → artifact_expired', async () => {
    const s = await startSim({ urlTtlMs: 0 });
    const e = await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')));
    expect(e.failure).toBe('artifact_expired');
    expect(e.upstreamStatus).toBe(404);
  });

  it('an expired start deadline (x-fal-request-timeout) → timeout that is not retried', async () => {
    const s = await startSim({ latencyMs: { mean: 300, distribution: 'fixed' } }, { concurrency: 1 });
    const a = adapter(s);
    const first = a.call(textToImageCall('fal-ai/flux/dev', 'first'));
    await sleep(20);
    const e = await failure(adapter(s, { startTimeoutSeconds: 0.05 }).call(textToImageCall('fal-ai/flux/dev', 'second')));
    expect(e.failure).toBe('timeout');
    expect(e.upstreamStatus).toBe(504);
    expect(e.retrySame).toBe(false);
    expect(s.sim.stats.last[SUBMIT]!.headers['x-fal-request-timeout']).toBe('0.05');
    expect(bytesOf(await first).bytes.length).toBeGreaterThan(0);
  });

  it('a hung status poll → timeout', async () => {
    const { app, sim } = createFalSimulator({ plan: { latencyMs: { mean: 15 } }, token: TOKEN, faultsOnPolls: true });
    // The submit goes through; from the first status poll on, every call hangs.
    app.addHook('onRequest', async (request) => {
      if (request.url.endsWith('/status')) sim.setPlan({ hangRate: 1 });
    });
    const s = await listen(app, sim);
    sims.push(s);
    expect((await failure(adapter(s).call(textToImageCall('fal-ai/flux/dev', 'p')))).failure).toBe('timeout');
  });
});

describe('fal.ai adapter: polling', () => {
  it('retries a status poll that failed with a 503 and still answers', async () => {
    let failed = 0;
    const { app, sim: state } = createFalSimulator({ plan: { latencyMs: { mean: 30 } }, token: TOKEN });
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.endsWith('/status') && failed < 1) {
        failed++;
        return reply.code(503).send({ detail: 'runner unavailable', error_type: 'runner_scheduling_failure' });
      }
    });
    const s = await listen(app, state);
    sims.push(s);
    const result = bytesOf(await adapter(s).call(textToImageCall('fal-ai/flux/dev', 'retry me')));
    expect(Buffer.from(result.bytes).equals(fakeImagePng('retry me'))).toBe(true);
    expect(failed).toBe(1);
  });

  it('abort stops polling at once and fires a best-effort cancel', async () => {
    const s = await startSim({ latencyMs: { mean: 2_000, distribution: 'fixed' } });
    const controller = new AbortController();
    const pending = adapter(s).call(textToImageCall('fal-ai/flux/dev', 'slow', {}, controller.signal));
    await sleep(60);
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    // A poll already on the wire when the caller left may still arrive; after that, none.
    await sleep(20);
    const polls = s.sim.stats.byRoute[STATUS] ?? 0;
    expect(polls).toBeGreaterThanOrEqual(1);
    await sleep(60);
    expect(s.sim.stats.byRoute[CANCEL]).toBe(1);
    expect(s.sim.stats.last[CANCEL]!.headers.authorization).toBe(`Key ${TOKEN}`);
    expect(s.sim.stats.byRoute[STATUS] ?? 0).toBe(polls);
    expect(s.sim.stats.faults.cancelled).toBe(1);
  });
});

describe('fal.ai simulator', () => {
  const key = { authorization: `Key ${TOKEN}` };
  async function submitRaw(s: Simulator, path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${s.url}/${path}`, { method: 'POST', headers: { ...key, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, string | number>;
  }
  const getJson = async (url: string) => {
    const res = await fetch(url, { headers: key });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it('parks requests IN_QUEUE behind the concurrency gate with a falling queue_position, then completes them', async () => {
    const s = await startSim({ latencyMs: { mean: 200, distribution: 'fixed' } }, { concurrency: 1 });
    const tickets = [];
    for (const p of ['a', 'b', 'c']) tickets.push(await submitRaw(s, 'fal-ai/flux/dev', { prompt: p }));
    const third = tickets[2]!;
    expect(third.status_url).toBe(`${s.url}/fal-ai/flux/requests/${third.request_id}/status`);
    expect(third.response_url).toBe(`${s.url}/fal-ai/flux/requests/${third.request_id}`);
    expect((await getJson(third.status_url as string)).body).toMatchObject({ status: 'IN_QUEUE', queue_position: 1 });
    expect((await getJson(`${tickets[0]!.status_url}?logs=1`)).body).toMatchObject({ status: 'IN_PROGRESS', logs: [expect.objectContaining({ level: 'INFO' })] });
    await sleep(260);
    expect((await getJson(third.status_url as string)).body).toMatchObject({ status: 'IN_QUEUE', queue_position: 0 });
    await sleep(500);
    const done = await getJson(third.status_url as string);
    expect(done.body).toMatchObject({ status: 'COMPLETED', metrics: { inference_time: 0.2 } });
    const result = await getJson(third.response_url as string);
    expect(result.headers.get('x-fal-request-id')).toBe(third.request_id);
    expect(result.body.images).toEqual([
      expect.objectContaining({ content_type: 'image/png', width: 64, height: 64, file_size: fakeImagePng('c').length }),
    ]);
    expect(s.sim.stats.creates).toBe(3);
  });

  it('cancel answers 202, then 400 ALREADY_COMPLETED, and 404 for an unknown request', async () => {
    const s = await startSim({ latencyMs: { mean: 500, distribution: 'fixed' } });
    const ticket = await submitRaw(s, 'fal-ai/flux/dev', { prompt: 'c' });
    const put = (url: string) => fetch(url, { method: 'PUT', headers: key }).then(async (r) => [r.status, await r.json()]);
    expect(await put(ticket.cancel_url as string)).toEqual([202, { status: 'CANCELLATION_REQUESTED' }]);
    expect(await put(ticket.cancel_url as string)).toEqual([400, { status: 'ALREADY_COMPLETED' }]);
    expect(await put(`${s.url}/fal-ai/flux/requests/nope/cancel`)).toEqual([404, { status: 'NOT_FOUND' }]);
  });

  it('401 without the key', async () => {
    const s = await startSim();
    const res = await fetch(`${s.url}/fal-ai/flux/dev`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    expect(res.status).toBe(401);
  });
});
