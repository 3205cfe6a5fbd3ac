/**
 * A throwaway Redis for one test run: redis-server in the foreground (a child of this process), on a free
 * port of 127.0.0.1, with no persistence, its working folder a temporary one.
 */
import { mkdir } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { freePort, spawnOwned, stop, waitReady } from './child.ts';

export interface RunningRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  /** Sends the shutdown signal without waiting: for an exit handler, where nothing async runs. */
  kill(): void;
}

export async function startRedis(redisServer: string, folder: string): Promise<RunningRedis> {
  await mkdir(folder, { mode: 0o700 });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const server = spawnOwned(redisServer, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--dir', folder, '--loglevel', 'warning'], { deathSignal: 'TERM' });
    const url = `redis://127.0.0.1:${port}`;
    try {
      await waitReady('Redis', server, () => answers(url));
    } catch (error) {
      await stop(server, 'SIGTERM');
      if (attempt < 3 && /Address already in use/i.test(server.output())) continue;
      throw error;
    }
    return { url, port, pid: server.pid, stop: () => stop(server, 'SIGTERM'), kill: () => server.child.kill('SIGTERM') };
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}
