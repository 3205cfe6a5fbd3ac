import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { openStore, type Store } from '../../src/store/index.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { PredictionLog } from '../../src/predictions/logs.ts';
import { newPredictionId } from '../../src/predictions/service.ts';
import type { PredictionRow } from '../../src/predictions/types.ts';
import { receiver, until, type Receiver } from './receiver.ts';

/** `logs`: what happened to a prediction, line by line, stored with it and sent as `logs` webhook events. */
let s: TestServer;
let hooks: Receiver;
/** The server's database opened a second time, as another instance would: it plants predictions whose instance died. */
let other: Store;
beforeAll(async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-logs-'));
  // A short stale time, so the recovery sweep's retry shows in the logs within the test; a tiny generation lasts
  // under a second, so progress is logged every 25 ms and `logs` events are throttled to one per 150 ms.
  const predictions = { workers: { staleMs: 400, heartbeatMs: 100, logProgressMs: 25 }, webhooks: { allowPrivate: true, throttleMs: 150 } };
  [s, hooks] = await Promise.all([startServer({ webhookAllowPrivate: true, dataDir }, { predictions }), receiver()]);
  other = await openStore({ dataDir });
});
afterAll(async () => {
  await other?.close();
  await s?.close();
  await hooks?.close();
});

const create = (model: string, input: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  postJson(`${s.url}/v1/models/${model}/predictions`, { input, ...extra }, { prefer: 'wait=30' });
const get = async (id: string) => (await (await fetch(`${s.url}/v1/predictions/${id}`)).json()) as { logs: string; status: string; error: string | null; output: unknown };
const lines = (logs: string) => logs.trimEnd().split('\n');

describe('prediction logs', () => {
  it('say where it started, after how long, and who answered; stored with the prediction', async () => {
    const made = await create('tiny/bert-sentiment', { prompt: 'logs, please' });
    expect(made.json.status).toBe('succeeded');
    const logged = lines(made.json.logs as string);
    expect(logged[0]).toMatch(/^starting on \S+ \(attempt 1 of 2\), \d+ ms after it was created$/);
    expect(logged).toContainEqual(expect.stringMatching(/^local answered in [\d.]+ m?s, compute \d+\.\d{3} s$/));
    expect((await get(made.json.id as string)).logs).toBe(made.json.logs);
  });

  it('note a cold start once: the first prediction of a model that is not loaded waits for it, the next does not', async () => {
    const first = await create('tiny/minilm-embed', { prompt: 'cold' });
    expect(first.json.status).toBe('succeeded');
    expect(first.json.logs).toContain('model tiny/minilm-embed is not loaded: waiting for it to load (cold start)');
    const second = await create('tiny/minilm-embed', { prompt: 'warm' });
    expect(second.json.status).toBe('succeeded');
    expect(second.json.logs).not.toContain('cold start');
  });

  it('count the tokens of a generation', async () => {
    const made = await create('tiny/gpt2', { prompt: 'the fox', max_new_tokens: 12, do_sample: false });
    expect(made.json.status).toBe('succeeded');
    const tokens = (made.json.output as string[]).length;
    expect(tokens).toBeGreaterThan(0);
    expect(made.json.logs).toMatch(new RegExp(`^generated ${tokens} tokens? in [\\d.]+ m?s \\([\\d.]+ tokens/s\\)$`, 'm'));
  });

  it("end with the error's message when the model fails", async () => {
    const made = await create('tiny/gpt2', { prompt: 'the fox', max_new_tokens: 'many' });
    expect(made.json.status).toBe('failed');
    expect(made.json.error).toBeTruthy();
    const logged = lines(made.json.logs as string);
    expect(logged).toContainEqual(expect.stringMatching(/^local answered HTTP 4\d\d in /));
    expect(logged[logged.length - 1]).toBe(`failed: ${made.json.error as string}`);
  });

  it('carry across a retry after the instance running it died, and say why it was retried or failed', async () => {
    const owner = (await s.composed.deps.predictions!.service.peek((await create('tiny/bert-sentiment', { prompt: 'owner' })).json.id as string))!.owner;
    const stale = Date.now() - 60_000;
    const dead = (attempt: number): PredictionRow => ({
      id: newPredictionId(), owner, tokenId: null, model: 'tiny/bert-sentiment', version: 'tiny/bert-sentiment', deployment: null, input: { prompt: 'orphan' },
      stream: false, status: 'processing', output: null, error: null, logs: 'starting on dead-host:1:abcd (attempt 1 of 2), 3 ms after it was created\n', metrics: null,
      createdAt: stale, startedAt: stale, completedAt: null, attempt, maxAttempts: 2, instance: 'dead-host:1:abcd', heartbeatAt: stale, cancelRequested: false,
      webhook: null, webhookEvents: ['completed'], webhookState: null, webhookNextAt: null, webhookAttempts: 0,
    });
    const retried = dead(1);
    const given = dead(2);
    await other.predictions.insert(retried);
    await other.predictions.insert(given);

    await until(async () => (await get(retried.id)).status === 'succeeded', 15_000, 'the retried prediction to succeed');
    const r = lines((await get(retried.id)).logs);
    expect(r[0]).toBe('starting on dead-host:1:abcd (attempt 1 of 2), 3 ms after it was created');
    expect(r[1]).toBe('dead-host:1:abcd stopped while running attempt 1: retrying (attempt 2 of 2)');
    expect(r[2]).toMatch(/^starting on \S+ \(attempt 2 of 2\), /);

    await until(async () => (await get(given.id)).status === 'failed', 15_000, 'the given-up prediction to fail');
    const g = await get(given.id);
    expect(lines(g.logs).at(-1)).toBe(`failed: ${g.error!}`);
    expect(g.error).toContain('not retried again');
  });

  it('go out as throttled, signed `logs` webhook events when the filter asks for them', async () => {
    const { key } = (await (await fetch(`${s.url}/v1/webhooks/default/secret`)).json()) as { key: string };
    // Long enough to log progress lines over several throttle windows.
    const made = await create('tiny/gpt2', { prompt: 'once upon a time', max_new_tokens: 480, do_sample: false }, { webhook: hooks.url, webhook_events_filter: ['logs'] });
    const id = made.json.id as string;
    expect(made.json.status).toBe('succeeded');
    const final = await get(id);
    expect(final.logs).toMatch(/^generated \d+ tokens so far/m);
    await new Promise((r) => setTimeout(r, 300));

    // At least once: a retried delivery repeats its webhook-id, which receivers drop; so does this one.
    const ids = new Set<string>();
    const mine = hooks.deliveries.filter((d) => (JSON.parse(d.body) as { id: string }).id === id && !ids.has(d.headers['webhook-id']!) && ids.add(d.headers['webhook-id']!));
    expect(mine.length).toBeGreaterThanOrEqual(2);
    const verifier = new Webhook(key);
    let previous = '';
    for (const d of mine) {
      expect(d.headers['webhook-id']).toMatch(new RegExp(`^${id}-logs-\\d+$`));
      expect(() => verifier.verify(d.body, d.headers)).not.toThrow();
      const logs = (JSON.parse(d.body) as { logs: string }).logs;
      // Each event carries the logs so far: they only grow.
      expect(logs.startsWith(previous)).toBe(true);
      expect(logs.length).toBeGreaterThan(previous.length);
      previous = logs;
    }
    // Throttled: at most one `logs` request per 150 ms (counted over the whole run, with 100 ms of slack for the
    // loopback's scheduling), while the logs got a line every 25 ms or so.
    const span = mine[mine.length - 1]!.at - mine[0]!.at;
    expect(mine.length).toBeLessThanOrEqual(Math.floor((span + 100) / 150) + 1);
    expect(lines(final.logs).length).toBeGreaterThan(mine.length + 2);
    // Neither `output` nor `completed` was asked for.
    expect(mine.every((d) => (JSON.parse(d.body) as { status: string }).status === 'processing')).toBe(true);
  });
});

describe('the bound on logs', () => {
  it('drops the oldest lines past the limit, says how many, and keeps counting across attempts', () => {
    const log = new PredictionLog('', 1000);
    for (let i = 0; i < 200; i++) log.add(`line ${i}: ${'x'.repeat(40)}`);
    const text = log.text();
    expect(text.length).toBeLessThanOrEqual(1000 + 40);
    const kept = lines(text);
    const dropped = Number(/^\[(\d+) earlier lines dropped\]$/.exec(kept[0]!)?.[1]);
    expect(dropped + kept.length - 1).toBe(200);
    expect(kept.at(-1)).toBe(`line 199: ${'x'.repeat(40)}`);
    // The next attempt starts from the stored text: the count goes on, nothing is counted twice.
    const next = new PredictionLog(text, 1000);
    next.add('retried');
    const again = lines(next.text());
    expect(Number(/^\[(\d+) earlier lines dropped\]$/.exec(again[0]!)?.[1]) + again.length - 1).toBe(201);
    expect(again.at(-1)).toBe('retried');
    // One event, one line: a message with newlines stays one line.
    const one = new PredictionLog();
    one.add('failed: first\n  second');
    expect(one.text()).toBe('failed: first second\n');
  });
});
