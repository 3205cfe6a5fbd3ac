/**
 * Generation on a dedicated endpoint: the replica process batches concurrent generations continuously (a short one
 * started during a long one finishes first, which one-at-a-time runs cannot do) and stops a generation whose caller
 * left (HTTP close → endpoint → replica `cancel` message → scheduler). The replica reports its scheduler in the
 * endpoint's metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseEventCounter, type TestServer } from '../helpers/server.ts';
import { api, startEndpointServer } from './helpers.ts';

const MODEL = 'tiny/llama-chat';
let s: TestServer;

interface ReplicaGeneration {
  active: number;
  tokens: number;
}

/** The endpoint's replica's generation stats (undefined until it has generated). */
async function generation(name: string): Promise<ReplicaGeneration | undefined> {
  const m = await api(s).metrics(name);
  return (m.json.replicaList as { generation?: ReplicaGeneration }[])[0]?.generation;
}

/** A streamed chat completion; `arrived` resolves once `first` chunks came, `done` with the chunk count (-1 if aborted). */
function chat(name: string, maxTokens: number, first = 1) {
  const ctrl = new AbortController();
  let chunks = 0;
  let reached!: () => void;
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const done = (async () => {
    const res = await fetch(`${s.url}/endpoints/${name}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Greedy: a sampled answer may meet its end-of-turn token before max_tokens (the default temperature is 1).
      body: JSON.stringify({ model: MODEL, stream: true, max_tokens: maxTokens, temperature: 0, messages: [{ role: 'user', content: 'Tell me a story' }] }),
      signal: ctrl.signal,
    });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
    const reader = res.body!.getReader();
    const events = sseEventCounter();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      chunks = events(value);
      if (chunks >= first) reached();
    }
    return chunks;
  })().catch((e: Error) => (e.name === 'AbortError' ? -1 : Promise.reject(e)));
  return { ctrl, arrived, done };
}

beforeAll(async () => {
  s = await startEndpointServer();
  expect((await api(s).create({ name: 'chatty', type: 'public', model: { repository: MODEL } })).status).toBe(200);
  await api(s).until('chatty', 'running');
});
afterAll(async () => {
  await s?.close();
});

describe('generation on a dedicated endpoint', () => {
  it('batches concurrent generations: a short one started during a long one ends first', async () => {
    const long = chat('chatty', 900, 3);
    await long.arrived;
    const order: string[] = [];
    const short = chat('chatty', 5);
    await Promise.all([short.done.then(() => order.push('short')), long.done.then(() => order.push('long'))]);
    expect(order).toEqual(['short', 'long']);
    expect(await long.done).toBeGreaterThan(900);
  });

  it('stops the generations of callers who left, and reports the scheduler in its metrics', async () => {
    let before = await generation('chatty');
    while (!before || before.active !== 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      before = await generation('chatty');
    }
    const streams = Array.from({ length: 4 }, () => chat('chatty', 900, 4));
    await Promise.all(streams.map((c) => c.arrived));
    streams.forEach((c) => c.ctrl.abort());
    expect(await Promise.all(streams.map((c) => c.done))).toEqual([-1, -1, -1, -1]);
    let after = await generation('chatty');
    while (!after || after.active !== 0 || after.tokens === before.tokens) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await generation('chatty');
    }
    // Far fewer than the 4 × 900 tokens that finishing them would have taken.
    expect(after.tokens - before.tokens).toBeGreaterThan(0);
    expect(after.tokens - before.tokens).toBeLessThan(900);
  });
});

describe('sequence-to-sequence on a dedicated endpoint', () => {
  const T5 = 'tiny/t5';
  const TEXT = 'My name is Sarah and I live in London. I work as a teacher and I like to read books.';
  const summarize = (maxNewTokens: number, signal?: AbortSignal) =>
    fetch(`${s.url}/endpoints/summarizer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: TEXT, parameters: { max_new_tokens: maxNewTokens } }),
      signal,
    });

  beforeAll(async () => {
    expect((await api(s).create({ name: 'summarizer', type: 'public', model: { repository: T5, task: 'text2text-generation' } })).status).toBe(200);
    await api(s).until('summarizer', 'running');
  });

  it('drops a queued input whose caller left and stops the running one, so the next call need not wait', async () => {
    // How long one long run takes, read to its end (this text meets no eos on tiny/t5).
    let t = performance.now();
    const whole = await summarize(1024);
    expect(whole.status).toBe(200);
    await whole.text();
    const full = performance.now() - t;

    const long = new AbortController();
    const queued = new AbortController();
    const running = summarize(1024, long.signal).catch(() => 'left');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiting = summarize(1024, queued.signal).catch(() => 'left');
    const next = summarize(3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    t = performance.now();
    queued.abort();
    long.abort();
    const nextAnswer = await next;
    expect(nextAnswer.status).toBe(200);
    await nextAnswer.text();
    const freed = performance.now() - t;
    expect([await running, await waiting]).toEqual(['left', 'left']);
    // Finishing the two abandoned runs would have taken twice `full`; stopping them takes a decoder step.
    expect(freed).toBeLessThan(full / 2);
  });
});
