import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresDatabase } from '../helpers/databases.ts';
import { TEST_REDIS_URL, freePrefix } from './redis.ts';
import { kill, startInstance, submitMany, type Instance } from './instances.ts';
import { until } from './receiver.ts';

/**
 * Three instances on one PostgreSQL and one Redis (BullMQ) drain 600 predictions submitted to all three; one is
 * SIGKILLed mid-run. None is lost (each ends), none completes twice (one ending, one usage record each).
 */
const N = 600;
const instances: Instance[] = [];
let db: Awaited<ReturnType<typeof postgresDatabase>> | undefined;

afterAll(async () => {
  for (const i of instances) await kill(i);
  await db?.cleanup();
});

describe('three instances, one PostgreSQL, one Redis', () => {
  it('drain 600 predictions with one SIGKILLed: none lost, none twice', { timeout: 180_000 }, async () => {
    db = await postgresDatabase();
    const redis = `${TEST_REDIS_URL.replace(/\/\d*$/, '')}/${freePrefix()}`;
    const args = ['--database', db.url, '--redis', redis, '--data-dir', db.dataDir, '--prediction-stale-after', '2', '--prediction-concurrency', '4', '--preload', 'tiny/bert-sentiment'];
    for (let i = 0; i < 3; i++) instances.push(await startInstance(args));
    const ids = (
      await Promise.all(instances.map((inst, k) => submitMany(inst.url, N / 3, (i) => ({ version: 'tiny/bert-sentiment', input: { prompt: `instance ${k} job ${i}` } }), 16, inst.stderr)))
    ).flat();
    expect(new Set(ids).size).toBe(N);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const count = async (where: string) => Number((await client.query<{ n: string }>(`select count(*) as n from predictions where ${where}`)).rows[0]!.n);
      await until(async () => (await count(`status in ('succeeded','failed','canceled')`)) >= 60, 60_000, '60 done');
      await kill(instances[1]!);
      await until(async () => (await count(`status in ('succeeded','failed','canceled')`)) === N, 120_000, 'all 600 ended');
      expect(await count(`status = 'succeeded'`)).toBeGreaterThan(0);
      const failed = await client.query<{ error: string | null }>(`select error from predictions where status = 'failed'`);
      for (const f of failed.rows) expect(f.error).toMatch(/\w/);
      const usage = await client.query<{ id: string; n: string }>('select request_id as id, count(*) as n from usage group by request_id');
      const perId = new Map(usage.rows.map((u) => [u.id, Number(u.n)]));
      for (const id of ids) expect(perId.get(id), id).toBe(1);
      // Each prediction is readable, finished, from any surviving instance.
      for (const id of ids.slice(0, 30)) {
        const res = await fetch(`${instances[2]!.url}/v1/predictions/${id}`);
        expect(res.status).toBe(200);
        expect(['succeeded', 'failed']).toContain(((await res.json()) as { status: string }).status);
      }
    } finally {
      await client.end();
    }
  });
});
