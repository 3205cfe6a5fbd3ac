import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, type TestServer } from '../helpers/server.ts';
import { api, call, processAlive, startEndpointServer } from './helpers.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startEndpointServer();
});
afterAll(async () => {
  await s?.close();
});

const pidsOf = async (name: string) => ((await api(s).metrics(name)).json.replicaList as { pid: number; state: string }[]).map((r) => r.pid);

describe('dedicated endpoint lifecycle', () => {
  it('create → running → serve → pause → resume → scale-to-zero → wake → rolling update → delete', async () => {
    const a = api(s);
    const created = await a.create({
      name: 'sentiment',
      type: 'public',
      model: { repository: 'tiny/bert-sentiment' },
      compute: { scaling: { minReplica: 0, maxReplica: 2, scaleToZeroTimeout: 60 } },
    });
    expect(created.status).toBe(200);
    expect(created.json.model.task).toBe('text-classification');
    expect(['pending', 'initializing']).toContain(created.json.status.state);
    expect(created.json.status.url).toBeUndefined(); // only a running endpoint has a URL

    const running = await a.until('sentiment', 'running');
    expect(running.status.url).toMatch(/\/endpoints\/sentiment$/);
    expect(running.status).toMatchObject({ readyReplica: 1, targetReplica: 1 });
    expect((await fetch(`${s.url}/endpoints/sentiment/health`)).status).toBe(200);

    // Serves the same answer as the serverless route on the same model, from another process.
    const answer = await call(s, 'sentiment', { inputs: 'I love this movie' });
    const serverless = await postJson(`${s.url}/models/tiny/bert-sentiment`, { inputs: 'I love this movie' });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual(serverless.json);
    expect(answer.headers.get('x-modelhost-provider')).toBe('endpoint:sentiment');
    const [firstPid] = await pidsOf('sentiment');
    expect(firstPid).not.toBe(process.pid);
    expect(processAlive(firstPid!)).toBe(true);

    // Pause: no replica, requests refused with a 503 that says how to resume.
    expect((await a.action('sentiment', 'pause')).status).toBe(200);
    const paused = await a.until('sentiment', 'paused');
    expect(paused.status.targetReplica).toBe(0);
    await expect.poll(() => processAlive(firstPid!)).toBe(false);
    const refused = await call(s, 'sentiment', { inputs: 'hello' });
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatch(/paused.*resume/);

    // Resume; resuming again is refused the way Hugging Face's API does.
    expect((await a.action('sentiment', 'resume')).status).toBe(200);
    await a.until('sentiment', 'running');
    const again = await a.action('sentiment', 'resume');
    expect(again.status).toBe(400);
    expect(again.json.error).toContain('already running');

    // Scale to zero, then a request wakes it and is held until a replica is ready.
    expect((await a.action('sentiment', 'scale-to-zero')).status).toBe(200);
    const asleep = await a.until('sentiment', 'scaledToZero');
    expect(asleep.status.readyReplica).toBe(0);
    const woken = await call(s, 'sentiment', { inputs: 'I love this movie' }, { 'x-scale-up-timeout': '60' });
    expect(woken.status).toBe(200);
    expect(woken.json).toEqual(serverless.json);
    expect((await a.get('sentiment')).json.status.state).toBe('running');

    // Rolling update (new revision): requests keep being answered while replicas are replaced one by one.
    const before = await pidsOf('sentiment');
    const updated = await a.update('sentiment', { model: { revision: 'v2' } });
    expect(updated.status).toBe(200);
    let failures = 0;
    let answered = 0;
    let done = false;
    const traffic = (async () => {
      while (!done) {
        const r = await call(s, 'sentiment', { inputs: 'still serving?' }, { 'x-scale-up-timeout': '60' });
        if (r.status === 200) answered++;
        else failures++;
      }
    })();
    await expect.poll(async () => (await a.get('sentiment')).json.status.state, { timeout: 30_000, interval: 50 }).toBe('updating');
    const after = await a.until('sentiment', 'running');
    done = true;
    await traffic;
    expect(after.model.revision).toBe('v2');
    expect(failures).toBe(0);
    expect(answered).toBeGreaterThan(0);
    const newPids = await pidsOf('sentiment');
    expect(newPids.some((p) => before.includes(p))).toBe(false);
    const logs = (await a.logs('sentiment')).text;
    expect(logs).toMatch(/update: replica sentiment-\d+ replaces sentiment-\d+/);
    expect(logs).toMatch(/state running → paused/);

    // Delete: gone from the API, its processes ended, its URL answers 404.
    expect((await a.remove('sentiment')).status).toBe(200);
    expect((await a.get('sentiment')).status).toBe(404);
    await expect.poll(() => newPids.every((p) => !processAlive(p))).toBe(true);
    expect((await call(s, 'sentiment', { inputs: 'x' })).status).toBe(404);
  });

  it('a sleeping endpoint answers 503 with estimated_time without X-Scale-Up-Timeout, and wakes', async () => {
    const a = api(s);
    await a.create({ name: 'sleepy', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 0, maxReplica: 1 } } });
    await a.until('sleepy', 'running');
    await a.action('sleepy', 'scale-to-zero');
    await a.until('sleepy', 'scaledToZero');
    const first = await call(s, 'sleepy', { inputs: 'hi' });
    expect(first.status).toBe(503);
    expect(first.json.estimated_time).toBeGreaterThan(0);
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0);
    // The refused request still started the wake.
    await a.until('sleepy', 'running');
    expect((await call(s, 'sleepy', { inputs: 'hi' })).status).toBe(200);
    await a.remove('sleepy');
  });

  it('scales to zero by itself after scaleToZeroTimeout minutes without requests', async () => {
    const a = api(s);
    await a.create({ name: 'idle', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 0, maxReplica: 1, scaleToZeroTimeout: 0.05 } } });
    await a.until('idle', 'running');
    expect((await call(s, 'idle', { inputs: 'hi' })).status).toBe(200);
    const asleep = await a.until('idle', 'scaledToZero', 0, 15_000);
    expect(asleep.status.message).toMatch(/without requests/);
    await a.remove('idle');
  });

  it('refuses invalid transitions with a clear 4xx', async () => {
    const a = api(s);
    await a.create({ name: 'moves', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('moves', 'running');
    expect((await a.action('moves', 'resume')).json.error).toContain('already running');
    expect((await a.action('moves', 'pause')).status).toBe(200);
    await a.until('moves', 'paused');
    const twice = await a.action('moves', 'pause');
    expect(twice.status).toBe(400);
    expect(twice.json.error).toMatch(/already paused/);
    const zero = await a.action('moves', 'scale-to-zero');
    expect(zero.status).toBe(400);
    expect(zero.json.error).toMatch(/paused; resume it first/);
    const rename = await a.update('moves', { name: 'other' });
    expect(rename.status).toBe(400);
    expect(rename.json.error).toMatch(/cannot be renamed/);
    const duplicate = await a.create({ name: 'moves', model: { repository: 'tiny/bert-sentiment' } });
    expect(duplicate.status).toBe(409);
    expect((await a.action('nosuch', 'pause')).status).toBe(404);
    expect((await a.get('nosuch')).json.error).toMatch(/No endpoint nosuch/);
    // An update while paused is stored and applies on resume.
    expect((await a.update('moves', { compute: { scaling: { maxReplica: 3 } } })).json.compute.scaling.maxReplica).toBe(3);
    expect((await a.get('moves')).json.status.state).toBe('paused');
    await a.remove('moves');
  });

  it('deleting an endpoint in the middle of a rolling update leaves no replica process behind', async () => {
    const a = api(s);
    await a.create({ name: 'doomed-roll', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('doomed-roll', 'running');
    expect((await a.update('doomed-roll', { model: { revision: 'next' } })).json.status.state).toBe('updating');
    const pids = ((await a.metrics('doomed-roll')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect(pids).toHaveLength(2); // the old replica and the new one starting
    const named = (execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' }).match(/--replica=doomed-roll-\d+/g) ?? []).length;
    expect(named).toBe(2); // ps sees them by name, so the check below can see a leftover
    expect((await a.remove('doomed-roll')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500)); // past the point where the new replica would have been ready
    expect(pids.filter(processAlive)).toEqual([]);
    // No process of this endpoint at all, not even one started after the delete (replicas carry their name).
    const processes = execFileSync('ps', ['-eo', 'args='], { encoding: 'utf8' });
    expect(processes).not.toMatch(/--replica=doomed-roll-\d+/);
  });

  it('rejects a bad create body naming every problem', async () => {
    const a = api(s);
    const bad = await a.create({ name: 'Bad_Name!', type: 'secret', model: {}, compute: { instanceSize: 'x3', scaling: { minReplica: 3, maxReplica: 1 } } });
    expect(bad.status).toBe(400);
    for (const part of ['body.name', 'body.type', 'body.model.repository', 'body.compute.instanceSize', 'body.compute.scaling.minReplica']) {
      expect(bad.json.error).toContain(part);
    }
    const unknownModel = await a.create({ name: 'ghost', model: { repository: 'nobody/nothing' } });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.json.error).toMatch(/no model nobody\/nothing/);
    const wrongTask = await a.create({ name: 'ghost', model: { repository: 'tiny/bert-sentiment', task: 'fill-mask' } });
    expect(wrongTask.status).toBe(400);
    expect(wrongTask.json.error).toMatch(/serves text-classification/);
    const notJson = await fetch(`${s.url}/api/endpoints/admin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect((await a.list()).json.items.map((e: { name: string }) => e.name)).not.toContain('ghost');
  });
});
