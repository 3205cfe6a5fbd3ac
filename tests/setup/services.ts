/**
 * The services a test run needs, brought up by vitest's global setup and stopped by its teardown:
 * PostgreSQL and Redis on free ports of 127.0.0.1 (unless MODELHOST_TEST_POSTGRES / MODELHOST_TEST_REDIS name
 * running ones, which are used as they are) and Chromium on disk. Their URLs go into process.env before the
 * test workers start, so workers and every process a test spawns see them.
 *
 * Nothing outlives the run: a normal end stops both servers and removes their folder; an exit through
 * process.exit (vitest on SIGINT/SIGTERM) signals them synchronously; a killed run leaves them to setpriv's
 * parent-death signal, and its folder to the sweep at the start of the next run.
 */
import { mkdtemp, readdir, rm, chmod } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensurePackages, findChromium, findPostgresBin, onPath, type NeedName } from './packages.ts';
import { startPostgres } from './postgres.ts';
import { startRedis } from './redis.ts';

/** Temp folders are named after the vitest pid, so a later run can tell a dead run's leftovers from a live one's. */
const FOLDER_PREFIX = 'modelhost-services-';

export type StopServices = () => Promise<void>;

/**
 * Vitest runs the global setup once per project (root, main, quiet) in the same process: the first call starts
 * the services, later ones share them, and the last teardown stops them.
 */
interface Shared {
  started: Promise<StopServices>;
  users: number;
}
const SHARED = Symbol.for('modelhost.test-services');
const registry = globalThis as { [SHARED]?: Shared };

export async function startServices(): Promise<StopServices> {
  const shared = (registry[SHARED] ??= { started: startAll(), users: 0 });
  shared.users++;
  const stopAll = await shared.started;
  return async () => {
    if (--shared.users > 0) return;
    delete registry[SHARED];
    await stopAll();
  };
}

async function startAll(): Promise<StopServices> {
  const env = process.env;
  const wantPostgres = !env.MODELHOST_TEST_POSTGRES;
  const wantRedis = !env.MODELHOST_TEST_REDIS;
  const needs: NeedName[] = ['chromium'];
  if (wantPostgres) needs.push('postgres', 'setpriv');
  if (wantRedis) needs.push('redis', 'setpriv');
  await ensurePackages(needs);
  env.CHROMIUM ??= findChromium();
  if (!wantPostgres && !wantRedis) {
    console.log('test services: PostgreSQL from MODELHOST_TEST_POSTGRES, Redis from MODELHOST_TEST_REDIS');
    return async () => {};
  }

  await sweepDeadRuns();
  const folder = await mkdtemp(path.join(os.tmpdir(), `${FOLDER_PREFIX}${process.pid}-`));
  // The PostgreSQL server runs as another user: it must be able to reach its own subfolder.
  await chmod(folder, 0o711);
  const [postgres, redis] = await Promise.allSettled([
    wantPostgres ? startPostgres(findPostgresBin() as string, path.join(folder, 'postgres')) : undefined,
    wantRedis ? startRedis(onPath('redis-server') as string, path.join(folder, 'redis')) : undefined,
  ]);
  const pg = postgres.status === 'fulfilled' ? postgres.value : undefined;
  const rd = redis.status === 'fulfilled' ? redis.value : undefined;
  const running = [pg, rd].filter((s) => s !== undefined);
  const onExit = () => {
    for (const service of running) service.kill();
    try {
      // The servers may still be unlinking their pid and socket files: retry, and leave the rest to the sweep.
      rmSync(folder, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    } catch {
      // Swept at the start of the next run.
    }
  };
  const stopAll = async () => {
    process.off('exit', onExit);
    await Promise.all(running.map((s) => s.stop()));
    await rm(folder, { recursive: true, force: true });
    if (wantPostgres) delete env.MODELHOST_TEST_POSTGRES;
    if (wantRedis) delete env.MODELHOST_TEST_REDIS;
  };
  const failed = [postgres, redis].flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0) {
    await stopAll();
    throw new Error(`test services did not start:\n${failed.map((e) => e.message).join('\n')}`, { cause: failed[0] });
  }
  process.on('exit', onExit);

  if (pg) env.MODELHOST_TEST_POSTGRES = pg.url;
  if (rd) env.MODELHOST_TEST_REDIS = rd.url;
  console.log(
    `test services: ${pg ? `PostgreSQL on 127.0.0.1:${pg.port} (pid ${pg.pid})` : 'PostgreSQL from MODELHOST_TEST_POSTGRES'}, ` +
      `${rd ? `Redis on 127.0.0.1:${rd.port} (pid ${rd.pid})` : 'Redis from MODELHOST_TEST_REDIS'}, in ${folder}`,
  );
  return stopAll;
}

/** Removes the folders of runs whose vitest process is gone (killed before its teardown could). */
export async function sweepDeadRuns(dir = os.tmpdir()): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await readdir(dir).catch(() => [])) {
    const pid = Number(name.match(new RegExp(`^${FOLDER_PREFIX}(\\d+)-`))?.[1]);
    if (!pid || alive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true }).then(() => swept.push(name), () => undefined);
  }
  return swept;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
