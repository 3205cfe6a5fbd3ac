/**
 * A throwaway PostgreSQL cluster for one test run: initdb in a folder of its own, the server on a free port
 * of 127.0.0.1 (its unix socket in that folder too), tuned for speed over durability since it is deleted
 * afterwards. The superuser `modelhost` has a random password: the tests create and drop databases with it,
 * and one test checks that a wrong password is refused, so host connections use scram, never trust.
 */
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { freePort, run, spawnOwned, stop, waitReady } from './child.ts';

export interface RunningPostgres {
  /** postgres://modelhost:<password>@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  /** Sends the shutdown signal without waiting: for an exit handler, where nothing async runs. */
  kill(): void;
}

const USER = 'modelhost';
/** PostgreSQL's immediate shutdown (what `pg_ctl stop -m immediate` sends): nothing in the cluster is kept. */
const SHUTDOWN = 'SIGQUIT';

/** initdb and postgres refuse to run as root: as root they run as the `postgres` user (or `nobody`). */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.split('\n').find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error('PostgreSQL cannot run as root, and neither a `postgres` nor a `nobody` user exists: create one (adduser --system postgres)');
}

/** Creates and starts the cluster under `folder` (which must be traversable by the server user). */
export async function startPostgres(bin: string, folder: string): Promise<RunningPostgres> {
  const user = await serverUser();
  await mkdir(folder, { mode: 0o700 });
  if (user) await chown(folder, user.uid, user.gid);
  const password = randomBytes(18).toString('base64url');
  const pwfile = path.join(folder, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) await chown(pwfile, user.uid, user.gid);
  const data = path.join(folder, 'data');
  await run(path.join(bin, 'initdb'), ['-D', data, '-U', USER, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=peer',
    '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions'], user);

  // A port can be taken between choosing and binding it: try a few.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = spawnOwned(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${folder}`, '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=300', '-c', 'logging_collector=off'], { deathSignal: 'QUIT', user });
    const url = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    try {
      await waitReady('PostgreSQL', server, () => answers(url));
    } catch (error) {
      await stop(server, SHUTDOWN);
      if (attempt < 3 && /could not bind|Address already in use/i.test(server.output())) continue;
      throw error;
    }
    return { url, port, pid: server.pid, stop: () => stop(server, SHUTDOWN), kill: () => server.child.kill(SHUTDOWN) };
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}
