/**
 * Cancellation end to end: a client that closes its stream stops its generation in the engine worker (HTTP close →
 * AbortSignal → engine → worker `cancel` message → scheduler), and the batch goes on with the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, sseEventCounter, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/gpt2';
/** Greedy tiny/gpt2 does not meet eos within this many tokens from the prompt below (512 positions). */
const MAX_NEW_TOKENS = 480;

const metric = (server: TestServer, name: string, model = MODEL) => metricValue(server, name, model);

/** Opens a TGI token stream and counts its events; `events` resolves after `first` of them arrived. */
function openStream(server: TestServer, first: number) {
  const ctrl = new AbortController();
  let count = 0;
  let reached!: () => void;
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  const done = (async () => {
    const res = await fetch(`${server.url}/models/${MODEL}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: 'Once upon a time', stream: true, parameters: { max_new_tokens: MAX_NEW_TOKENS, do_sample: false } }),
      signal: ctrl.signal,
    });
    const reader = res.body!.getReader();
    const events = sseEventCounter();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      count = events(value);
      if (count >= first) reached();
    }
    return count;
  })().catch(() => -1);
  return { ctrl, arrived, done, count: () => count };
}

describe('generation cancellation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('closing 16 of 32 streams frees their slots: 16 stay active and finish, the others stop generating', async () => {
    const streams = Array.from({ length: 32 }, () => openStream(server, 3));
    await Promise.all(streams.map((s) => s.arrived));
    expect(await metric(server, 'modelhost_generation_active_sequences')).toBe(32);
    const tokensBefore = (await metric(server, 'modelhost_generation_tokens_total'))!;
    streams.forEach((s, i) => i % 2 === 0 && s.ctrl.abort());

    // The scheduler reports 16 active while the other 16 are still generating.
    let active = await metric(server, 'modelhost_generation_active_sequences');
    while (active !== 16) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      active = await metric(server, 'modelhost_generation_active_sequences');
    }
    const stillStreaming = streams.filter((s, i) => i % 2 === 1 && s.count() < MAX_NEW_TOKENS).length;
    expect(stillStreaming).toBe(16);

    const counts = await Promise.all(streams.map((s) => s.done));
    counts.forEach((n, i) => (i % 2 === 1 ? expect(n).toBe(MAX_NEW_TOKENS) : expect(n).toBe(-1)));
    // The engine generated about 16 × the rest of the tokens, not 32 ×: the cancelled ones stopped early.
    const generated = (await metric(server, 'modelhost_generation_tokens_total'))! - tokensBefore;
    expect(generated).toBeLessThan(16 * MAX_NEW_TOKENS + 16 * 50);
    expect(await metric(server, 'modelhost_generation_active_sequences')).toBe(0);
    expect(await metric(server, 'modelhost_generation_queued_sequences')).toBe(0);
  });

  it('closing OpenAI chat streams stops their generations too', async () => {
    const CHAT = 'tiny/llama-chat';
    const MAX_TOKENS = 900;
    const tokensBefore = (await metric(server, 'modelhost_generation_tokens_total', CHAT)) ?? 0;
    const streams = Array.from({ length: 4 }, (_, i) => {
      const ctrl = new AbortController();
      let chunks = 0;
      let reached!: () => void;
      const arrived = new Promise<void>((resolve) => (reached = resolve));
      const done = (async () => {
        const res = await fetch(`${server.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: CHAT, stream: true, max_tokens: MAX_TOKENS, seed: i, messages: [{ role: 'user', content: `Tell me a long story number ${i}` }] }),
          signal: ctrl.signal,
        });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        const events = sseEventCounter();
        for (;;) {
          const { done: end, value } = await reader.read();
          if (end) break;
          chunks = events(value);
          if (chunks >= 4) reached();
        }
      })().catch(() => undefined);
      return { ctrl, arrived, done };
    });
    await Promise.all(streams.map((s) => s.arrived));
    streams.forEach((s) => s.ctrl.abort());
    await Promise.all(streams.map((s) => s.done));
    let active = await metric(server, 'modelhost_generation_active_sequences', CHAT);
    while (active !== 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      active = await metric(server, 'modelhost_generation_active_sequences', CHAT);
    }
    // Stopped early: far fewer tokens than the 4 × 900 that finishing them would have taken.
    const generated = (await metric(server, 'modelhost_generation_tokens_total', CHAT))! - tokensBefore;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(MAX_TOKENS);
  });
});
