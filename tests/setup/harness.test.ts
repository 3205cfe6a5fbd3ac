import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { descendants, listeners, startInnerVitest, waitGone } from './inner-run.ts';
import { ensurePackages } from './packages.ts';
import { startServices, sweepDeadRuns } from './services.ts';

/**
 * The test harness itself (tests/setup/services.ts): a run with no PostgreSQL or Redis configured starts its
 * own, the suites that need them run and pass on those, and nothing the run started is left afterwards, also
 * when the run is killed. The outer run's services (this file's own) are not touched.
 */
const scratch = mkdtempSync(path.join(os.tmpdir(), 'modelhost-harness-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

interface JsonReport {
  testResults: { name: string; assertionResults: { fullName: string; status: string }[] }[];
}

/** One test per suite that needs a service: enough to prove each ran on the inner run's own servers. */
const SUBSET = {
  'tests/store/store.test.ts': "store on 'PostgreSQL' keeps tokens and usage across close and reopen",
  'tests/auth/limits-multi.test.ts': 'admits 600 of 2,000 concurrent requests',
  'tests/auth/multi-instance.test.ts': 'honour a revocation made on one instance',
};

describe('npm test starts the services it needs', () => {
  it('brings up PostgreSQL and Redis when none is configured; the store, Redis and multi-instance suites pass on them; nothing is left', async () => {
    const report = path.join(scratch, 'report.json');
    const pattern = Object.values(SUBSET).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
    const run = startInnerVitest([...Object.keys(SUBSET), '-t', pattern, '--reporter=json', `--outputFile=${report}`]);
    const services = await run.services;
    const code = await run.exited;
    expect(code, run.output().slice(-3_000)).toBe(0);

    const results = (JSON.parse(readFileSync(report, 'utf8')) as JsonReport).testResults;
    for (const [file, title] of Object.entries(SUBSET)) {
      const tests = results.find((r) => r.name.endsWith(file))?.assertionResults ?? [];
      const chosen = tests.filter((t) => t.fullName.includes(title));
      expect(chosen.length, `${file}: ${title}`).toBeGreaterThan(0);
      expect(chosen.map((t) => t.status), file).toEqual(chosen.map(() => 'passed'));
      expect(tests.filter((t) => t.status === 'failed'), file).toEqual([]);
    }

    expect(await waitGone([services.postgres.pid, services.redis.pid], 0)).toEqual([]);
    expect(existsSync(services.folder)).toBe(false);
    // The inner run had servers of its own, and the outer run's still answer.
    expect(process.env.MODELHOST_TEST_POSTGRES).not.toContain(`:${services.postgres.port}/`);
    expect(process.env.MODELHOST_TEST_REDIS).not.toContain(`:${services.redis.port}`);
    await expectOuterServicesAnswer();
  }, 240_000);

  it.each([
    // SIGTERM: vitest exits through process.exit, and the exit hook removes the folder. SIGKILL: nothing runs; the
    // servers get setpriv's parent-death signal, and the next run's sweep removes the folder.
    { signal: 'SIGTERM' as const, swept: false },
    { signal: 'SIGKILL' as const, swept: true },
  ])('listens on 127.0.0.1 only, and leaves no process behind when the run gets $signal', async ({ signal, swept }) => {
    // limits-multi: its test worker starts instance processes of its own, so the run has grandchildren too.
    const run = startInnerVitest(['tests/auth/limits-multi.test.ts']);
    const services = await run.services;
    let started: { pid: number; command: string }[] = [];
    try {
      expect(listeners(services.postgres.port)).toEqual(['127.0.0.1']);
      expect(listeners(services.redis.port)).toEqual(['127.0.0.1']);
      // PostgreSQL's unix socket is in the run's folder, not in the system-wide /var/run/postgresql.
      expect(existsSync(path.join(services.folder, 'postgres', `.s.PGSQL.${services.postgres.port}`))).toBe(true);
      started = await waitFor(() => descendants(run.child.pid!), (all) => all.some((p) => p.command.includes('limits-worker')));
    } finally {
      run.child.kill(signal);
      await run.exited;
    }
    expect(started.map((p) => p.pid)).toEqual(expect.arrayContaining([services.postgres.pid, services.redis.pid]));
    const left = await waitGone(started.map((p) => p.pid));
    expect(started.filter((p) => left.includes(p.pid))).toEqual([]);
    // (Another run starting on this machine meanwhile may have swept it already.)
    if (swept && existsSync(services.folder)) expect(await sweepDeadRuns()).toContain(path.basename(services.folder));
    expect(existsSync(services.folder)).toBe(false);
    await expectOuterServicesAnswer();
  }, 120_000);

  it('uses the servers named by MODELHOST_TEST_POSTGRES and MODELHOST_TEST_REDIS as they are', async () => {
    const before = { postgres: process.env.MODELHOST_TEST_POSTGRES, redis: process.env.MODELHOST_TEST_REDIS };
    expect(before.postgres && before.redis).toBeTruthy();
    const stop = await startServices();
    expect({ postgres: process.env.MODELHOST_TEST_POSTGRES, redis: process.env.MODELHOST_TEST_REDIS }).toEqual(before);
    expect(readdirOwn()).toEqual([]);
    await stop();
    expect({ postgres: process.env.MODELHOST_TEST_POSTGRES, redis: process.env.MODELHOST_TEST_REDIS }).toEqual(before);
    await expectOuterServicesAnswer();
  });

  it('without root, stops with one line per missing package naming the apt-get install that fixes it', async () => {
    const attempt = ensurePackages(['redis', 'chromium'], { env: { PATH: scratch }, installer: 'none' });
    await expect(attempt).rejects.toThrow(
      /^redis-server is not installed \(Redis .*\): run `apt-get install -y --no-install-recommends redis-server` as root\nchromium is not installed \(Chromium .*\): run `apt-get install -y --no-install-recommends chromium` as root$/,
    );
  });
});

/** Folders this worker's own process would have created had it started services. */
function readdirOwn(): string[] {
  return readdirSync(os.tmpdir()).filter((name) => name.startsWith(`modelhost-services-${process.pid}-`));
}

/** Polls `read` until `done` holds for its value (at most 60 s), and returns that value. */
async function waitFor<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`still not there after 60 s: ${JSON.stringify(read())}`);
}

async function expectOuterServicesAnswer(): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.MODELHOST_TEST_POSTGRES, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
  } finally {
    await client.end();
  }
  const redis = new Redis(process.env.MODELHOST_TEST_REDIS!, { maxRetriesPerRequest: 1 });
  try {
    expect(await redis.ping()).toBe('PONG');
  } finally {
    redis.disconnect();
  }
}
