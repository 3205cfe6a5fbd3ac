/**
 * The store contract, run unchanged against SQLite (a temp file) and a real PostgreSQL (a fresh database
 * per test). PostgreSQL being unreachable fails its half with instructions instead of skipping it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Migrator } from 'kysely';
import { openStore } from '../../src/store/index.ts';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';
import { openPostgres } from '../../src/store/postgres.ts';
import { openSqlite } from '../../src/store/sqlite.ts';
import type { NewToken, Store, UsageRecord } from '../../src/store/types.ts';
import { postgresDatabase, sqliteDatabase, TEST_POSTGRES_URL, type TestDatabase } from '../helpers/databases.ts';

type Rows = Record<string, unknown>[];

const BACKENDS = [
  {
    name: 'SQLite',
    kind: 'sqlite' as const,
    create: sqliteDatabase,
    async query(url: string, statement: string): Promise<Rows> {
      const db = new BetterSqlite3(url, { readonly: true });
      try {
        return db.prepare(statement).all() as Rows;
      } finally {
        db.close();
      }
    },
  },
  {
    name: 'PostgreSQL',
    kind: 'postgres' as const,
    create: postgresDatabase,
    async query(url: string, statement: string): Promise<Rows> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(statement)).rows as Rows;
      } finally {
        await client.end();
      }
    },
  },
];

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 2, 10); // 2025-03-10T00:00:00Z

function token(n: number, extra: Partial<NewToken> = {}): NewToken {
  return {
    id: `tok_${n}`,
    name: `token ${n}`,
    owner: 'alice',
    scopes: ['inference'],
    tier: 'community',
    hash: n.toString(16).padStart(64, '0'),
    prefix: `mh_${n}`,
    expiresAt: null,
    ...extra,
  };
}

function record(extra: Partial<UsageRecord> = {}): UsageRecord {
  return {
    at: new Date(T0 + 3_600_000),
    requestId: 'req',
    tokenId: 'tok_1',
    model: 'm1',
    provider: 'local',
    task: 'text-classification',
    status: 200,
    latencyMs: 10,
    computeMs: 5,
    inputTokens: 3,
    outputTokens: 7,
    outputs: 0,
    characters: 12,
    audioSeconds: 1.5,
    megapixels: 0.25,
    costUsd: 0.5,
    ...extra,
  };
}

describe.each(BACKENDS)('store on $name', ({ kind, create, query }) => {
  let database: TestDatabase;
  const opened: Store[] = [];
  const dropDatabases: (() => Promise<void>)[] = [];

  async function open(): Promise<Store> {
    const store = await openStore({ database: database.url, dataDir: database.dataDir });
    opened.push(store);
    return store;
  }

  beforeEach(async () => {
    const created = await create();
    dropDatabases.push(created.cleanup);
    database = created;
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await Promise.all(dropDatabases.splice(0).map((drop) => drop()));
  });

  describe('migrations', () => {
    it('applies every migration once, and reopening is a no-op', async () => {
      const store = await open();
      expect(store.kind).toBe(kind);
      const names = async () => (await query(database.url, 'select name from kysely_migration order by name')).map((r) => r.name);
      expect(await names()).toEqual(['001_tokens', '002_usage', '003_endpoints', '004_usage_media', '005_predictions', '006_usage_request_id']);
      await store.tokens.create(token(1));
      await store.close();
      const again = await open();
      expect(await names()).toEqual(['001_tokens', '002_usage', '003_endpoints', '004_usage_media', '005_predictions', '006_usage_request_id']);
      expect(await again.tokens.count()).toBe(1);
    });

    it('lets two instances start at once on a new database; the schema is applied by one', async () => {
      const [a, b] = await Promise.all([open(), open()]);
      const rows = await query(database.url, 'select name from kysely_migration');
      expect(rows).toHaveLength(Object.keys(MIGRATIONS).length);
      await a!.tokens.create(token(1));
      expect(await b!.tokens.count()).toBe(1);
    });

    it('upgrades a database made before audio and image usage, keeping its usage rows', async () => {
      // A database at 003, as an earlier release left it, holding one usage record.
      const conn = kind === 'sqlite' ? openSqlite(database.url) : await openPostgres(database.url);
      const before = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name <= '003_endpoints'));
      const { error } = await new Migrator({ db: conn.db, provider: { getMigrations: async () => before } }).migrateToLatest();
      expect(error).toBeUndefined();
      const old = { ...record(), audioSeconds: undefined, megapixels: undefined };
      await conn.db.insertInto('usage').values({ at: old.at.getTime(), request_id: 'old', token_id: 'tok_1', model: 'm1', provider: 'local', task: 't', status: 200, latency_ms: 1, compute_ms: 1, input_tokens: 0, output_tokens: 0, outputs: 0, characters: 9, cost_usd: 0.5 } as never).execute();
      await conn.close();

      const store = await open();
      const [total] = await store.usage.aggregate({ by: [] });
      expect(total).toMatchObject({ requests: 1, characters: 9, audioSeconds: 0, megapixels: 0, costUsd: 0.5 });
    });

    it('creates the indexes the queries rely on', async () => {
      await open();
      const statement =
        kind === 'sqlite'
          ? "select name from sqlite_master where type = 'index' and tbl_name in ('tokens', 'usage')"
          : "select indexname as name from pg_indexes where tablename in ('tokens', 'usage')";
      const names = (await query(database.url, statement)).map((r) => String(r.name));
      // usage_request_id: a prediction's end writes its usage row only if none has its id yet (predictions.ts).
      expect(names).toEqual(expect.arrayContaining(['usage_at', 'usage_token_at', 'usage_request_id']));
      // The unique constraint on tokens.hash makes an index whose name each database picks.
      expect(names.some((n) => n.includes('tokens') && (n.includes('hash') || n.includes('autoindex')))).toBe(true);
    });
  });

  describe('endpoints', () => {
    const row = (name: string, namespace = 'alice') => ({
      name,
      namespace,
      spec: { name, model: { repository: 'tiny/bert-sentiment' }, nested: { list: [1, 2] } },
      activeSpec: null,
      state: 'running',
      message: 'Endpoint is running',
      createdAt: new Date(T0),
      createdBy: 'alice',
      updatedAt: new Date(T0),
      updatedBy: 'alice',
    });

    it('creates, saves, lists by namespace and deletes; names are unique', async () => {
      const store = await open();
      await store.endpoints.create(row('one'));
      await store.endpoints.create(row('two', 'bob'));
      await expect(store.endpoints.create(row('one', 'bob'))).rejects.toMatchObject({ code: 'conflict' });
      expect(await store.endpoints.get('one')).toEqual(row('one'));
      expect((await store.endpoints.list('alice')).map((e) => e.name)).toEqual(['one']);
      expect((await store.endpoints.list()).map((e) => e.name)).toEqual(['one', 'two']);
      const saved = { ...row('one'), state: 'paused', message: 'Endpoint is paused', activeSpec: { old: true }, updatedAt: new Date(T0 + 5), updatedBy: 'ops', createdBy: 'mallory' };
      await store.endpoints.save(saved);
      const got = await store.endpoints.get('one');
      expect(got).toMatchObject({ state: 'paused', message: 'Endpoint is paused', activeSpec: { old: true }, updatedBy: 'ops' });
      expect(got?.updatedAt.getTime()).toBe(T0 + 5);
      expect(got?.createdBy).toBe('alice'); // creation fields are never rewritten
      expect(await store.endpoints.delete('one')).toBe(true);
      expect(await store.endpoints.delete('one')).toBe(false);
      expect(await store.endpoints.get('one')).toBeUndefined();
    });

    it('keeps endpoints across a reopen', async () => {
      const store = await open();
      await store.endpoints.create(row('kept'));
      await store.close();
      const again = await open();
      expect(await again.endpoints.get('kept')).toEqual(row('kept'));
    });
  });

  describe('tokens', () => {
    it('creates, finds, lists, counts and revokes', async () => {
      const store = await open();
      expect(await store.tokens.count()).toBe(0);
      expect(await store.tokens.list()).toEqual([]);

      const expiresAt = new Date(T0 + 30 * DAY);
      const created = await store.tokens.create(
        token(1, { scopes: ['inference', 'admin'], expiresAt, createdAt: new Date(T0) }),
      );
      expect(created).toMatchObject({ id: 'tok_1', createdAt: new Date(T0), revokedAt: null, expiresAt });
      const second = await store.tokens.create(token(2, { createdAt: new Date(T0 + 1) }));
      expect(second.createdAt.getTime()).toBe(T0 + 1);

      expect(await store.tokens.count()).toBe(2);
      expect(await store.tokens.byId('tok_1')).toEqual(created);
      expect(await store.tokens.byHash(token(2).hash)).toEqual(second);
      expect(await store.tokens.byHash('f'.repeat(64))).toBeUndefined();
      expect(await store.tokens.byId('nope')).toBeUndefined();
      expect((await store.tokens.list()).map((t) => t.id)).toEqual(['tok_1', 'tok_2']);

      const revokedAt = new Date(T0 + DAY);
      expect(await store.tokens.revoke('tok_1', revokedAt)).toBe(true);
      expect(await store.tokens.revoke('tok_1', new Date())).toBe(false);
      expect(await store.tokens.revoke('nope', new Date())).toBe(false);
      const revoked = await store.tokens.byId('tok_1');
      expect(revoked?.revokedAt).toEqual(revokedAt);
      expect(revoked?.scopes).toEqual(['inference', 'admin']);
      expect(await store.tokens.count()).toBe(2);
    });

    it('defaults createdAt to now', async () => {
      const store = await open();
      const before = Date.now();
      const created = await store.tokens.create(token(1));
      expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect((await store.tokens.byId('tok_1'))?.createdAt).toEqual(created.createdAt);
    });

    it('rejects a duplicate hash or id and keeps the first', async () => {
      const store = await open();
      await store.tokens.create(token(1));
      await expect(store.tokens.create(token(2, { hash: token(1).hash }))).rejects.toThrow(/already exists/);
      await expect(store.tokens.create(token(3, { id: 'tok_1' }))).rejects.toThrow(/already exists/);
      expect(await store.tokens.count()).toBe(1);
      expect((await store.tokens.byHash(token(1).hash))?.id).toBe('tok_1');
    });
  });

  describe('usage', () => {
    const records: UsageRecord[] = [
      record({ requestId: 'a', tokenId: 'tok_1', model: 'm1', provider: 'local', costUsd: 1, latencyMs: 10 }),
      record({ requestId: 'b', tokenId: 'tok_1', model: 'm2', provider: 'hf', costUsd: 2, latencyMs: 30, status: 500 }),
      record({ requestId: 'c', tokenId: 'tok_2', model: 'm1', provider: 'hf', costUsd: 4, latencyMs: 20, status: 429 }),
      record({ requestId: 'd', tokenId: null, model: 'm1', provider: 'local', costUsd: 0.25, latencyMs: 40, at: new Date(T0 + DAY + 5) }),
      record({ requestId: 'e', tokenId: 'tok_2', model: 'm2', provider: 'local', costUsd: 8, latencyMs: 50, at: new Date(T0 + DAY + 6), outputs: 2 }),
    ];

    it('totals everything when grouped by nothing, as JS numbers', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const [total, ...rest] = await store.usage.aggregate({ by: [] });
      expect(rest).toEqual([]);
      expect(total).toEqual({
        requests: 5,
        errors: 2,
        inputTokens: 15,
        outputTokens: 35,
        outputs: 2,
        characters: 60,
        audioSeconds: 7.5,
        megapixels: 1.25,
        computeMs: 25,
        costUsd: 15.25,
        avgLatencyMs: 30,
      });
      for (const value of Object.values(total!)) expect(typeof value).toBe('number');
    });

    it('groups by token (anonymous as null), sorted by cost descending', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const rows = await store.usage.aggregate({ by: ['token'] });
      expect(rows.map((r) => [r.token, r.requests, r.costUsd, r.errors])).toEqual([
        ['tok_2', 2, 12, 1],
        ['tok_1', 2, 3, 1],
        [null, 1, 0.25, 0],
      ]);
      expect(rows[0]).not.toHaveProperty('model');
    });

    it('groups by model and by provider', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const byModel = await store.usage.aggregate({ by: ['model'] });
      expect(byModel.map((r) => [r.model, r.requests, r.costUsd, r.avgLatencyMs])).toEqual([
        ['m2', 2, 10, 40],
        ['m1', 3, 5.25, (10 + 20 + 40) / 3],
      ]);
      const byProvider = await store.usage.aggregate({ by: ['provider'] });
      expect(byProvider.map((r) => [r.provider, r.requests, r.costUsd])).toEqual([
        ['local', 3, 9.25],
        ['hf', 2, 6],
      ]);
    });

    it('groups by UTC day, days ascending', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const rows = await store.usage.aggregate({ by: ['day'] });
      expect(rows.map((r) => [r.day, r.requests, r.costUsd])).toEqual([
        ['2025-03-10', 3, 7],
        ['2025-03-11', 2, 8.25],
      ]);
    });

    it('groups by combinations: day, then cost descending within the day', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const rows = await store.usage.aggregate({ by: ['day', 'token', 'model'] });
      expect(rows.map((r) => [r.day, r.token, r.model, r.costUsd])).toEqual([
        ['2025-03-10', 'tok_2', 'm1', 4],
        ['2025-03-10', 'tok_1', 'm2', 2],
        ['2025-03-10', 'tok_1', 'm1', 1],
        ['2025-03-11', 'tok_2', 'm2', 8],
        ['2025-03-11', null, 'm1', 0.25],
      ]);
      const byTokenProvider = await store.usage.aggregate({ by: ['token', 'provider'] });
      expect(byTokenProvider.map((r) => [r.token, r.provider, r.requests])).toEqual([
        ['tok_2', 'local', 1],
        ['tok_2', 'hf', 1],
        ['tok_1', 'hf', 1],
        ['tok_1', 'local', 1],
        [null, 'local', 1],
      ]);
    });

    it('puts the last millisecond of a UTC day and the first of the next in different days', async () => {
      const store = await open();
      const midnight = Date.UTC(2024, 1, 29); // a leap day, 2024-02-29T00:00:00Z
      await store.usage.insertMany([
        record({ requestId: 'x', at: new Date(midnight - 1) }),
        record({ requestId: 'y', at: new Date(midnight) }),
        record({ requestId: 'z', at: new Date(midnight + DAY - 1) }),
        record({ requestId: 'w', at: new Date(midnight + DAY) }),
      ]);
      const rows = await store.usage.aggregate({ by: ['day'] });
      expect(rows.map((r) => [r.day, r.requests])).toEqual([
        ['2024-02-28', 1],
        ['2024-02-29', 2],
        ['2024-03-01', 1],
      ]);
    });

    it('filters by from (inclusive), to (exclusive) and token', async () => {
      const store = await open();
      await store.usage.insertMany(records);
      const day2 = new Date(T0 + DAY + 5);
      const count = async (q: Parameters<Store['usage']['aggregate']>[0]) =>
        (await store.usage.aggregate(q))[0]?.requests ?? 0;
      expect(await count({ by: [], from: day2 })).toBe(2);
      expect(await count({ by: [], to: day2 })).toBe(3);
      expect(await count({ by: [], from: day2, to: new Date(day2.getTime() + 1) })).toBe(1);
      expect(await count({ by: [], tokenId: 'tok_2' })).toBe(2);
      expect(await count({ by: [], tokenId: 'tok_2', from: day2 })).toBe(1);
      expect(await store.usage.aggregate({ by: ['model'], tokenId: 'nobody' })).toEqual([]);
      expect(await store.usage.aggregate({ by: [], from: new Date(T0 + 10 * DAY) })).toEqual([]);
    });

    it('commits large batches whole, in several statements', async () => {
      const store = await open();
      const many = Array.from({ length: 2_345 }, (_, i) => record({ requestId: `r${i}`, costUsd: 0.001 }));
      await store.usage.insertMany(many);
      await store.usage.insertMany([]);
      const [total] = await store.usage.aggregate({ by: [] });
      expect(total?.requests).toBe(2_345);
      expect(total?.costUsd).toBeCloseTo(2.345, 9);
    });

    it('leaves nothing behind when a batch fails partway', async () => {
      const store = await open();
      const batch = Array.from({ length: 1_200 }, (_, i) => record({ requestId: `r${i}` }));
      // The last chunk carries a row the database refuses (NOT NULL), after earlier chunks were written.
      batch.push(record({ model: null as unknown as string }));
      await expect(store.usage.insertMany(batch)).rejects.toThrow();
      expect(await store.usage.aggregate({ by: [] })).toEqual([]);
      await store.usage.insertMany([record()]);
      expect((await store.usage.aggregate({ by: [] }))[0]?.requests).toBe(1);
    });

    it('takes concurrent batches from two instances on the same database', async () => {
      const [a, b] = [await open(), await open()];
      const batches = Array.from({ length: 20 }, (_, i) =>
        Array.from({ length: 50 }, (_, j) => record({ requestId: `${i}-${j}`, tokenId: i % 2 ? 'tok_a' : 'tok_b' })),
      );
      await Promise.all(batches.map((batch, i) => (i % 2 ? a : b).usage.insertMany(batch)));
      const rows = await a.usage.aggregate({ by: ['token'] });
      expect(rows.map((r) => [r.token, r.requests])).toEqual([
        ['tok_a', 500],
        ['tok_b', 500],
      ]);
    });
  });

  it('keeps tokens and usage across close and reopen', async () => {
    const store = await open();
    await store.tokens.create(token(7, { scopes: ['endpoints'] }));
    await store.tokens.revoke('tok_7', new Date(T0));
    await store.usage.insertMany(records3());
    await store.close();
    const reopened = await open();
    expect(await reopened.tokens.byId('tok_7')).toMatchObject({ scopes: ['endpoints'], revokedAt: new Date(T0) });
    expect((await reopened.usage.aggregate({ by: [] }))[0]?.requests).toBe(3);
  });
});

function records3(): UsageRecord[] {
  return [record({ requestId: '1' }), record({ requestId: '2' }), record({ requestId: '3' })];
}

describe('openStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modelhost-open-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('defaults to SQLite at <dataDir>/modelhost.db, creating the folder, in WAL mode', async () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const store = await openStore({ dataDir });
    expect(store.kind).toBe('sqlite');
    await store.close();
    await store.close(); // closing twice is harmless
    const file = path.join(dataDir, 'modelhost.db');
    expect((await stat(file)).isFile()).toBe(true);
    const db = new BetterSqlite3(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('accepts sqlite:<path> and a plain path', async () => {
    for (const database of [`sqlite:${path.join(dir, 'a.db')}`, path.join(dir, 'b.db')]) {
      const store = await openStore({ database, dataDir: dir });
      await store.close();
    }
    expect((await stat(path.join(dir, 'a.db'))).isFile()).toBe(true);
    expect((await stat(path.join(dir, 'b.db'))).isFile()).toBe(true);
  });

  it('rejects an unsupported scheme and a malformed PostgreSQL URL without showing the password', async () => {
    await expect(openStore({ database: 'mysql://u:hunter2@host/db', dataDir: dir })).rejects.toThrow(
      /Unsupported database URL scheme "mysql:".*u:\*\*\*@host/,
    );
    const bad = openStore({ database: 'postgres://u:hunter2@host:notaport/db', dataDir: dir });
    await expect(bad).rejects.toThrow(/Invalid PostgreSQL URL/);
    await expect(bad).rejects.not.toThrow(/hunter2/);
  });

  it('says what to do when PostgreSQL is unreachable, without showing the password', async () => {
    const attempt = openStore({ database: 'postgres://modelhost:hunter2@127.0.0.1:1/modelhost_test', dataDir: dir });
    await expect(attempt).rejects.toThrow(/Cannot connect to PostgreSQL at postgres:\/\/modelhost:\*\*\*@127\.0\.0\.1:1.*running/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });

  it('says to check the credentials when PostgreSQL refuses them', async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.password = 'wrong-hunter2';
    const attempt = openStore({ database: url.toString(), dataDir: dir });
    await expect(attempt).rejects.toThrow(/user name and password/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });
});
