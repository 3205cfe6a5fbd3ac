/**
 * Throwaway databases for tests: SQLite in a temp folder, PostgreSQL as a fresh database on the server
 * named by MODELHOST_TEST_POSTGRES (the test run's global setup starts one on 127.0.0.1 unless it is set).
 * No skip when PostgreSQL is missing: the error says what to do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../../src/store/index.ts';
import { redactSecrets, redactUrl } from '../../src/store/redact.ts';
import type { Store } from '../../src/store/types.ts';

export const TEST_POSTGRES_URL =
  process.env.MODELHOST_TEST_POSTGRES || 'postgres://modelhost:modelhost@127.0.0.1:5432/modelhost_test';

export interface TestDatabase {
  /** Pass as `database` to openStore to open the same database again (another instance, a reopen). */
  url: string;
  /** Where the SQLite file lives; also a scratch folder for the test. */
  dataDir: string;
}

export interface TestStore extends TestDatabase {
  store: Store;
  /** Closes the store and removes the database. */
  cleanup(): Promise<void>;
}

export async function sqliteDatabase(): Promise<TestDatabase & { cleanup(): Promise<void> }> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelhost-store-'));
  return { url: path.join(dataDir, 'modelhost.db'), dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

export async function postgresDatabase(): Promise<TestDatabase & { cleanup(): Promise<void> }> {
  const name = `modelhost_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'modelhost-pg-'));
  return {
    url: url.toString(),
    dataDir,
    cleanup: async () => {
      // FORCE: a store a failed test left open must not keep the database alive.
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function sqliteStore(): Promise<TestStore> {
  return withStore(await sqliteDatabase());
}

export async function postgresStore(): Promise<TestStore> {
  return withStore(await postgresDatabase());
}

async function withStore(database: TestDatabase & { cleanup(): Promise<void> }): Promise<TestStore> {
  let store: Store;
  try {
    store = await openStore({ database: database.url, dataDir: database.dataDir });
  } catch (error) {
    await database.cleanup();
    throw error;
  }
  return {
    ...database,
    store,
    cleanup: async () => {
      await store.close();
      await database.cleanup();
    },
  };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query(statement);
  } catch (error) {
    const reason = redactSecrets((error instanceof Error && error.message) || String((error as { code?: unknown }).code ?? error), TEST_POSTGRES_URL);
    throw new Error(
      `PostgreSQL for tests is unavailable at ${redactUrl(TEST_POSTGRES_URL)} (${reason}). Unset MODELHOST_TEST_POSTGRES to let ` +
        'the test run start its own, or point it at a running server where this user may create databases.',
      { cause: error },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
