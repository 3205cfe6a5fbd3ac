/**
 * Custom server endpoints when their servers misbehave (issue 18): a replica killed mid-stream, a server that never
 * becomes healthy, one that exits at once; and secrets passed by name, which never show anywhere.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { allGone, hfImage, replicaPids, simulatorImage } from './custom-helpers.ts';
import { api, call, startEndpointServer } from './helpers.ts';

const SECRET = `sk-test-${Math.random().toString(36).slice(2)}-do-not-show`;
let s: TestServer;
const seen = new Set<number>();

beforeAll(async () => {
  // modelhost's own environment holds the key; endpoints name it (passEnv), never carry it.
  process.env.SECRET_KEY = SECRET;
  s = await startEndpointServer();
});
afterAll(async () => {
  await s?.close();
  delete process.env.SECRET_KEY;
  expect(await allGone([...seen])).toBe(true);
});

describe('a custom server replica killed mid-stream', () => {
  it('ends the stream with an error event; the restarted replica answers the next calls; the crash is counted', async () => {
    const a = api(s);
    await a.create({ name: 'crashy', type: 'public', model: { repository: 'local/slow-llm', image: simulatorImage({ tokenIntervalMs: 150 }) }, compute: { scaling: { maxConcurrentRequests: 1 } } });
    await a.until('crashy', 'running', 1, 60_000);
    const [victim] = await replicaPids(s, 'crashy');
    seen.add(victim!);
    const openai = new OpenAI({ baseURL: `${s.url}/endpoints/crashy/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-scale-up-timeout': '60' } });
    const stream = await openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'a long answer' }], stream: true });
    const received: string[] = [];
    let error: Error | undefined;
    let overLimit: { status: number; json: { error: { message: string } } } | undefined;
    try {
      for await (const chunk of stream) {
        received.push(chunk.choices[0]?.delta?.content ?? '');
        if (received.length === 1) {
          // The stream holds the endpoint's one slot (maxConcurrentRequests 1): another call is refused, OpenAI-shaped.
          const res = await fetch(`${s.url}/endpoints/crashy/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'one too many' }] }) });
          overLimit = { status: res.status, json: await res.json() };
        }
        if (received.length === 2) process.kill(victim!, 'SIGKILL');
      }
    } catch (e) {
      error = e as Error;
    }
    expect(overLimit?.status).toBe(429);
    expect(overLimit?.json.error.message).toMatch(/maxConcurrentRequests/);
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.length).toBeLessThan(16);
    expect(error?.message).toMatch(/Endpoint stream interrupted: the replica crashy-1 serving this stream stopped/);

    // The next call is held while the replacement starts (X-Scale-Up-Timeout), then answered by it.
    const next = await openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'after the crash' }] });
    expect(next.choices[0]!.message.content).toContain('after the crash');
    const [replacement] = await replicaPids(s, 'crashy');
    seen.add(replacement!);
    expect(replacement).not.toBe(victim);
    const metrics = (await a.metrics('crashy')).json;
    expect(metrics.crashes).toBe(1);
    expect((await a.logs('crashy')).text).toMatch(/killed by SIGKILL while ready/);
    await a.remove('crashy');
    expect(await allGone([victim!, replacement!])).toBe(true);
  }, 90_000);
});

describe('a custom server that cannot start', () => {
  it('never healthy: failed, with its last output lines (secrets redacted) in the message', async () => {
    const a = api(s);
    await a.create({ name: 'never-healthy', type: 'public', model: { repository: 'local/never', image: hfImage({ startTimeout: 3, passEnv: ['SECRET_KEY'] }, 'never-healthy') } });
    const failed = await a.until('never-healthy', 'failed', 0, 30_000);
    expect(failed.status.message).toMatch(/Endpoint failed to start: did not answer GET \/health within 3 s .*last output: .*hf test server starting on port \d+ \(mode never-healthy, key \[SECRET_KEY redacted\]\)/);
    expect(failed.status.message).not.toContain(SECRET);
    const refused = await call(s, 'never-healthy', { inputs: 'x' });
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatch(/has failed/);
    expect(refused.text).not.toContain(SECRET);
    await a.remove('never-healthy');
  }, 60_000);

  it('exits at once: failed, with its exit code and last lines', async () => {
    const a = api(s);
    await a.create({ name: 'exits', type: 'public', model: { repository: 'local/exits', image: hfImage({}, 'exit') } });
    const failed = await a.until('exits', 'failed', 0, 30_000);
    expect(failed.status.message).toMatch(/Endpoint failed to start: exited with code 3 before answering \/health; last output: .*fatal: configuration refused, exiting/);
    await a.remove('exits');
  }, 60_000);
});

describe('a custom server over its memory budget', () => {
  it('is stopped and replaced, the budget named in its logs', async () => {
    const a = api(s);
    await a.create({ name: 'hog', type: 'public', model: { repository: 'local/hog', image: hfImage({ startTimeout: 20 }, 'hog') }, compute: { memoryMb: 128 } });
    const kills = async () => ((await a.logs('hog')).text.match(/\[hog-\d+\] used \d+ MB, over its memory budget of 128 MB \(compute\.memoryMb\): stopping it/g) ?? []).length;
    await expect.poll(kills, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(2);
    // Each one killed was replaced by a new process.
    expect((await a.logs('hog')).text).toMatch(/\[hog-2\] started python3/);
    const pids = await replicaPids(s, 'hog');
    await a.remove('hog');
    expect(await allGone(pids)).toBe(true);
  }, 60_000);
});

describe('secrets passed by variable name', () => {
  it('reach the server but never its JSON, logs, metrics, command line or errors', async () => {
    const a = api(s);
    const created = await a.create({ name: 'keyed', type: 'public', model: { repository: 'local/keyed', task: 'text-classification', image: hfImage({ passEnv: ['SECRET_KEY'], env: { PLAIN: 'shown' } }) } });
    expect(created.status).toBe(200);
    await a.until('keyed', 'running', 1, 30_000);
    const pids = await replicaPids(s, 'keyed');
    for (const p of pids) seen.add(p);
    expect((await call(s, 'keyed', { inputs: 'abc' })).json).toEqual([[{ label: 'CBA', score: 0.03 }]]);
    const shown = [
      JSON.stringify(created.json),
      (await a.get('keyed')).text,
      (await a.list()).text,
      (await a.metrics('keyed')).text,
      readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8'),
    ];
    for (const text of shown) expect(text).not.toContain(SECRET);
    expect((await a.get('keyed')).json.model.image.custom).toMatchObject({ passEnv: ['SECRET_KEY'], env: { PLAIN: 'shown' } });
    // The server did get it (it printed it), and the logs show the name in its place.
    const logs = (await a.logs('keyed')).text;
    expect(logs).toContain('key [SECRET_KEY redacted]');
    expect(logs).not.toContain(SECRET);
    // A variable modelhost does not have is refused when the endpoint is created, by name.
    const missing = await a.create({ name: 'missing-key', type: 'public', model: { repository: 'x', image: hfImage({ passEnv: ['NOT_SET_ANYWHERE_42'] }) } });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatch(/passEnv: NOT_SET_ANYWHERE_42 is not set in modelhost's environment/);
    // A bad spec is refused with every problem named.
    const bad = await a.create({ name: 'bad-spec', model: { repository: 'x', image: { custom: { args: 'not a list', api: 'grpc' } } } });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/body\.model\.image\.custom\.command: required.*body\.model\.image\.custom\.args: .*body\.model\.image\.custom\.api: must be one of openai, hf, tgi, raw/);
    // It cannot turn into an endpoint of a model (nor a model endpoint into a custom server).
    const switched = await a.update('keyed', { model: { repository: 'tiny/bert-sentiment', image: { custom: null } } });
    expect(switched.status).toBe(400);
    expect(switched.json.error).toMatch(/runs a custom server and cannot switch to a model; create another endpoint/);
    await a.remove('keyed');
  }, 60_000);
});

describe('a custom server endpoint across a restart of modelhost', () => {
  it('its replicas stop with modelhost and start again from the stored spec', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'modelhost-custom-restart-'));
    const first = await startEndpointServer({ dataDir });
    let second: TestServer | undefined;
    try {
      await api(first).create({ name: 'comes-back', type: 'public', model: { repository: 'local/py', image: hfImage() } });
      await api(first).until('comes-back', 'running', 1, 30_000);
      const before = await replicaPids(first, 'comes-back');
      await first.close();
      expect(await allGone(before)).toBe(true);

      second = await startEndpointServer({ dataDir });
      await api(second).until('comes-back', 'running', 1, 30_000);
      const after = await replicaPids(second, 'comes-back');
      for (const p of after) seen.add(p);
      expect((await call(second, 'comes-back', { inputs: 'again' })).json).toEqual([[{ label: 'NIAGA', score: 0.05 }]]);
    } finally {
      await second?.close();
    }
  }, 60_000);
});
