import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { api, call, processAlive, startEndpointServer } from './helpers.ts';
import { postgresDatabase } from '../helpers/databases.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
});

describe('endpoints across a restart of modelhost', () => {
  it('every endpoint comes back in its state and serves', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'modelhost-endpoints-restart-'));
    const first = await startEndpointServer({ dataDir });
    servers.push(first);
    const a = api(first);
    const body = (name: string, extra: object = {}) => ({ name, type: 'public', model: { repository: 'tiny/bert-sentiment' }, ...extra });
    await a.create(body('stays-up'));
    await a.create(body('stays-paused'));
    await a.create(body('stays-asleep', { compute: { scaling: { minReplica: 0, maxReplica: 1 } } }));
    await a.create(body('two-replicas', { compute: { scaling: { minReplica: 2, maxReplica: 2 } } }));
    for (const n of ['stays-up', 'stays-paused', 'stays-asleep']) await a.until(n, 'running');
    await a.until('two-replicas', 'running', 2);
    await a.action('stays-paused', 'pause');
    await a.action('stays-asleep', 'scale-to-zero');
    await a.until('stays-paused', 'paused');
    await a.until('stays-asleep', 'scaledToZero');
    const reference = (await call(first, 'stays-up', { inputs: 'what a day' })).json;
    const pids = ((await a.metrics('stays-up')).json.replicaList as { pid: number }[]).map((r) => r.pid);

    await first.close();
    servers.pop();
    // Stopping modelhost stops its replicas.
    expect(pids.every((p) => !processAlive(p))).toBe(true);

    const second = await startEndpointServer({ dataDir });
    servers.push(second);
    const b = api(second);
    const states = Object.fromEntries(((await b.list()).json.items as { name: string; status: { state: string } }[]).map((e) => [e.name, e.status.state]));
    expect(states['stays-paused']).toBe('paused');
    expect(states['stays-asleep']).toBe('scaledToZero');
    expect(['initializing', 'running']).toContain(states['stays-up']);
    await b.until('stays-up', 'running');
    await b.until('two-replicas', 'running', 2);
    const again = await call(second, 'stays-up', { inputs: 'what a day' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(reference);
    expect((await call(second, 'two-replicas', { inputs: 'what a day' })).json).toEqual(reference);
    // The sleeping one wakes on a request; the paused one refuses until resumed.
    expect((await call(second, 'stays-asleep', { inputs: 'what a day' }, { 'x-scale-up-timeout': '60' })).json).toEqual(reference);
    expect((await call(second, 'stays-paused', { inputs: 'what a day' })).status).toBe(503);
    await b.action('stays-paused', 'resume');
    await b.until('stays-paused', 'running');
    expect((await call(second, 'stays-paused', { inputs: 'what a day' })).json).toEqual(reference);
    // Its configuration and history survived too.
    const kept = (await b.get('two-replicas')).json;
    expect(kept.compute.scaling).toMatchObject({ minReplica: 2, maxReplica: 2 });
    expect(kept.status.createdAt).toBe((await b.get('two-replicas')).json.status.createdAt);
  });
});

describe('endpoints on a shared PostgreSQL', () => {
  it('one instance manages them; another says where they are; they survive that instance restarting', async () => {
    const database = await postgresDatabase();
    try {
      const first = await startEndpointServer({ database: database.url });
      servers.push(first);
      const second = await startEndpointServer({ database: database.url });
      servers.push(second);
      const a = api(first);
      await a.create({ name: 'pg-one', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
      await a.until('pg-one', 'running');
      const elsewhere = await api(second).list();
      expect(elsewhere.status).toBe(503);
      expect(elsewhere.json.error).toMatch(/managed by another modelhost instance/);
      expect((await call(second, 'pg-one', { inputs: 'hi' })).status).toBe(503);
      const answer = (await call(first, 'pg-one', { inputs: 'hi' })).json;

      await first.close();
      servers.splice(servers.indexOf(first), 1);
      const third = await startEndpointServer({ database: database.url });
      servers.push(third);
      await api(third).until('pg-one', 'running');
      expect((await call(third, 'pg-one', { inputs: 'hi' })).json).toEqual(answer);
    } finally {
      for (const s of servers.splice(0)) await s.close().catch(() => undefined);
      await database.cleanup();
    }
  });
});

describe('endpoints on one SQLite data directory', () => {
  it('a second instance on the same data directory leaves them to the first; a stale lock is taken over', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'modelhost-endpoints-lock-'));
    const first = await startEndpointServer({ dataDir });
    servers.push(first);
    const second = await startEndpointServer({ dataDir });
    servers.push(second);
    expect((await api(first).list()).status).toBe(200);
    const refused = await api(second).list();
    expect(refused.status).toBe(503);
    expect(refused.json.error).toMatch(/managed by another modelhost instance/);
    await second.close();
    await first.close();
    servers.splice(0);
    // A lock left by a process that no longer exists (a crash) does not keep endpoints off.
    const lock = path.join(dataDir, 'modelhost.db.endpoints.lock');
    writeFileSync(lock, '2147483646');
    const third = await startEndpointServer({ dataDir });
    servers.push(third);
    expect((await api(third).list()).status).toBe(200);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    await third.close();
    servers.splice(0);
    expect(existsSync(lock)).toBe(false); // released on close
  });
});
