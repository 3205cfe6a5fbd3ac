import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeCompletionTokens } from '../../src/simulate/fake-models.ts';
import { SimState, type Simulator } from '../../src/simulate/harness.ts';
import { closedPort, fastTimeouts, startRouted, startSim } from '../helpers/router.ts';
import { postJson, type TestServer } from '../helpers/server.ts';

/** The failover catalogue: every failure a provider can show, against the simulators, through modelhost. */
type Sim = Simulator & { api: string };
let a: Sim;
let b: Sim;
let server: TestServer;
const prompt = 'hello routed world';
const expected = fakeCompletionTokens(prompt, 6).join('');

const chat = (model = 'sim/chat', extra: Record<string, unknown> = {}) =>
  postJson(`${server.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: prompt }], max_tokens: 6, ...extra });

/** Reads an SSE answer whole: its data events, and whether it ended with [DONE]. */
async function streamChat(model = 'sim/chat') {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }], max_tokens: 6, stream: true }),
  });
  const text = await res.text();
  const data = text
    .split('\n')
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trim());
  const events = data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  const content = events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
  return { res, events, done: data.at(-1) === '[DONE]', content };
}

beforeAll(async () => {
  a = await startSim('openai-compatible');
  b = await startSim('openai-compatible');
  const dead = await closedPort();
  server = await startRouted({
    routing: { retries: 1, backoffMs: 10, maxRetryAfterMs: 1000, timeouts: fastTimeouts, breaker: { failures: 1000, cooldownMs: 1000 } },
    providers: [
      { name: 'a', type: 'openai-compatible', baseUrl: a.api },
      { name: 'b', type: 'openai-compatible', baseUrl: b.api },
      { name: 'dead', type: 'openai-compatible', baseUrl: `${dead}/v1` },
    ],
    models: [
      { id: 'sim/chat', task: 'conversational', providers: [{ provider: 'a', id: 'a-chat' }, { provider: 'b', id: 'b-chat' }] },
      { id: 'sim/refused', task: 'conversational', providers: [{ provider: 'dead' }, { provider: 'b' }] },
      { id: 'sim/only-a', task: 'conversational', providers: [{ provider: 'a' }] },
    ],
  });
});
afterAll(async () => {
  await server?.close();
  await a?.close();
  await b?.close();
});
beforeEach(() => {
  for (const s of [a, b]) {
    s.sim.setPlan({ latencyMs: { mean: 2, jitter: 0 } }, true);
    s.sim.stats = SimState.emptyStats();
  }
});

describe('failover catalogue (chat through two OpenAI-compatible simulators)', () => {
  it('healthy: the first provider answers, with the mapped model id sent upstream and the caller\'s id answered', async () => {
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('a');
    expect(res.json.choices[0].message.content).toBe(expected);
    expect(res.json.model).toBe('sim/chat');
    expect(JSON.stringify(a.sim.stats.last)).toContain('a-chat');
    expect(Number(res.headers.get('x-modelhost-overhead-ms'))).toBeGreaterThanOrEqual(0);
  });

  it('upstream 5xx: retried once, then failed over', async () => {
    a.sim.setPlan({ errorRate: 1, errorStatus: 500 });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(res.json.choices[0].message.content).toBe(expected);
    expect(a.sim.stats.requests).toBe(2);
  });

  it('connection refused: failed over at once', async () => {
    const res = await chat('sim/refused');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
  });

  it('timeout before headers: a slow provider is left after the first-byte timeout', async () => {
    a.sim.setPlan({ latencyMs: { mean: 3000, jitter: 0 } });
    const started = Date.now();
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('silent hang: no answer at all is failed over', async () => {
    a.sim.setPlan({ hangRate: 1 });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(a.sim.stats.hung).toBeGreaterThanOrEqual(1);
  });

  it('429 with a short Retry-After: waits as told, retries, then fails over', async () => {
    a.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: 0.3 });
    const started = Date.now();
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(a.sim.stats.requests).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('429 with a long Retry-After: fails over at once instead of waiting', async () => {
    a.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: 30 });
    const started = Date.now();
    const res = await chat();
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(a.sim.stats.requests).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('429 without Retry-After: backs off, retries, fails over', async () => {
    a.sim.setPlan({ rateLimitRate: 1, retryAfterSeconds: null });
    const res = await chat();
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(a.sim.stats.requests).toBe(2);
  });

  it('malformed JSON output: failed over', async () => {
    a.sim.setPlan({ malformedRate: 1 });
    const res = await chat();
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('b');
    expect(res.json.choices[0].message.content).toBe(expected);
  });

  it('slow first token: a stream is failed over before any byte reaches the caller', async () => {
    a.sim.setPlan({ firstTokenDelayMs: 3000 });
    const s = await streamChat();
    expect(s.res.headers.get('x-modelhost-provider')).toBe('b');
    expect(s.content).toBe(expected);
    expect(s.done).toBe(true);
  });

  it('stream cut before its first byte: failed over, the caller sees one clean stream', async () => {
    a.sim.setPlan({ cutRate: 1, cutAfterEvents: 0 });
    const s = await streamChat();
    expect(s.res.headers.get('x-modelhost-provider')).toBe('b');
    expect(s.content).toBe(expected);
    expect(s.done).toBe(true);
  });

  it('stream cut after its first byte: ends with an explicit error event and no [DONE]', async () => {
    a.sim.setPlan({ cutRate: 1, cutAfterEvents: 2 });
    const s = await streamChat();
    expect(s.res.status).toBe(200);
    expect(s.done).toBe(false);
    const last = s.events.at(-1);
    expect(last.error.type).toBe('upstream_error');
    expect(last.error.message).toMatch(/a/);
    expect(expected.startsWith(s.content)).toBe(true);
    expect(s.content.length).toBeLessThan(expected.length);
    // Counted as the provider's failure, not as a success.
    const stats = (await (await fetch(`${server.url}/api/providers`)).json()) as { providers: Array<{ name: string; errors: number }> };
    expect(stats.providers.find((p) => p.name === 'a')!.errors).toBeGreaterThan(0);
  });

  it('a caller that leaves mid-stream cancels the upstream call and is not held against the provider', async () => {
    a.sim.setPlan({ tokenIntervalMs: 200 });
    const before = ((await (await fetch(`${server.url}/api/providers`)).json()) as { providers: Array<{ name: string; errors: number }> }).providers.find(
      (p) => p.name === 'a',
    )!.errors;
    const ctrl = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim/only-a', messages: [{ role: 'user', content: prompt }], max_tokens: 50, stream: true }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ctrl.abort();
    await new Promise((r) => setTimeout(r, 600));
    const after = ((await (await fetch(`${server.url}/api/providers`)).json()) as { providers: Array<{ name: string; errors: number; circuit: { state: string } }> }).providers.find(
      (p) => p.name === 'a',
    )!;
    expect(after.errors).toBe(before);
    expect(after.circuit.state).toBe('closed');
    // The upstream call was cancelled, not left to run to its end.
    expect(a.sim.stats.abandoned).toBe(1);
  });

  it('streams pass through unbuffered: the first token reaches the caller long before the last', async () => {
    a.sim.setPlan({ tokenIntervalMs: 150 });
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sim/chat', messages: [{ role: 'user', content: prompt }], max_tokens: 6, stream: true }),
    });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let firstAt = 0;
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!firstAt && text.includes('"content"')) firstAt = performance.now() - started;
    }
    const total = performance.now() - started;
    // Six tokens 150 ms apart: the whole stream takes at least 750 ms; the first token must not wait for it.
    expect(total).toBeGreaterThan(700);
    expect(firstAt).toBeLessThan(total - 500);
    expect(text.trim().endsWith('data:[DONE]') || text.trim().endsWith('data: [DONE]')).toBe(true);
  });

  it('all providers down: a 502 that names every provider tried, in the API\'s error shape', async () => {
    a.sim.setPlan({ outage: '503' });
    b.sim.setPlan({ outage: '503' });
    const res = await chat();
    expect(res.status).toBe(502);
    expect(res.json.error.message).toMatch(/a: .*503/);
    expect(res.json.error.message).toMatch(/b: .*503/);
    expect(res.json.error.code).toBe('all_providers_failed');
    const hf = await postJson(`${server.url}/models/sim/only-a`, { inputs: 'x' });
    expect(hf.status).toBeGreaterThanOrEqual(400);
    expect(typeof hf.json.error).toBe('string');
  });

  it('a caller mistake the provider rejects is passed back as it is, never failed over', async () => {
    const res = await chat('sim/chat', { max_tokens: 0 });
    expect(res.status).toBe(400);
    expect(b.sim.stats.requests).toBe(0);
  });

  it('an explicit provider is used alone: model:b, x-provider and /b/v1/...', async () => {
    const suffix = await chat('sim/chat:b');
    expect(suffix.headers.get('x-modelhost-provider')).toBe('b');
    const path = await postJson(`${server.url}/b/v1/chat/completions`, { model: 'sim/chat', messages: [{ role: 'user', content: prompt }], max_tokens: 6 });
    expect(path.headers.get('x-modelhost-provider')).toBe('b');
    expect(JSON.stringify(b.sim.stats.last)).toContain('b-chat');
    const unknown = await chat('sim/chat:nowhere');
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.message).toMatch(/nowhere.*not configured/);
  });

  it('reports per-provider statistics at /api/providers and /metrics', async () => {
    a.sim.setPlan({ errorRate: 1 });
    await chat();
    const res = await fetch(`${server.url}/api/providers`);
    const body = (await res.json()) as { providers: Array<{ name: string; requests: number; errors: number; p50Ms: number | null; circuit: { state: string } }> };
    const pa = body.providers.find((p) => p.name === 'a')!;
    const pb = body.providers.find((p) => p.name === 'b')!;
    expect(pa.errors).toBeGreaterThan(0);
    expect(pb.p50Ms).not.toBeNull();
    expect(pa.circuit.state).toBe('closed');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/modelhost_provider_latency_ms\{provider="b",quantile="0.95"\} [\d.]+/);
    expect(metrics).toMatch(/modelhost_provider_errors_total\{provider="a"\} [1-9]/);
    expect(metrics).toMatch(/modelhost_failovers_total\{from="a",to="b"\} [1-9]/);
  });
});
