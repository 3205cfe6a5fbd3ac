/**
 * Generation on a dedicated endpoint: the replica process batches concurrent generations continuously (a short one
 * started during a long one finishes first, which one-at-a-time runs cannot do) and stops a generation whose caller
 * left (HTTP close → endpoint → replica `cancel` message → scheduler). The replica reports its scheduler in the
 * endpoint's metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
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
      body: JSON.stringify({ model: MODEL, stream: true, max_tokens: maxTokens, messages: [{ role: 'user', content: 'Tell me a story' }] }),
      signal: ctrl.signal,
    });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
    const reader = res.body!.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      chunks += new TextDecoder().decode(value).split('data:').length - 1;
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
