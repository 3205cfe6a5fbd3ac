/**
 * Replica processes of modelhost as it runs (`bin/modelhost.js`, compiled): they run dist/'s JavaScript, a spare
 * process waits once an endpoint has started a replica, a wake from zero takes it (and `ps` then shows the
 * endpoint's name), a new spare replaces it, and the spare goes with the last endpoint. With
 * `endpointSpareReplica: false`, no spare is ever started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';
import type { TestServer } from '../helpers/server.ts';
import { api, call, processAlive, startEndpointServer } from './helpers.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A process's command line as `ps` shows it (its title, once it set one). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
  } catch {
    return '';
  }
}

/** The pids of the child processes of `parent`, from /proc. */
function children(parent: number): number[] {
  try {
    return readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('replica processes of the compiled server', () => {
  let child: ChildProcess;
  let s: TestServer;

  beforeAll(async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-spare-'));
    child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'modelhost.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), '--models-dir', TEST_MODELS_DIR, '--no-builtin-models', '--auth', 'off', '--log-level', 'warn', '--data-dir', dataDir],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const url = `http://127.0.0.1:${port}`;
    for (const deadline = Date.now() + 60_000; ; ) {
      const up = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('modelhost serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Only the URL is used by the helpers here.
    s = { url } as TestServer;
  });

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  /** The spare that has imported its runtime (a wake takes only that one). */
  const spareOf = (server: number) => children(server).find((pid) => commandLine(pid).includes('--replica=(spare, ready)'));

  it('runs replicas from dist/, wakes on the spare process and replaces it', async () => {
    const a = api(s);
    expect((await a.create({ name: 'waker', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 0, maxReplica: 1 } } })).status).toBe(200);
    await a.until('waker', 'running');
    const [first] = ((await a.metrics('waker')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect(commandLine(first!)).toContain(path.join(REPO_ROOT, 'dist', 'endpoints', 'replica-process.js'));
    expect(commandLine(first!)).toContain('--replica=waker-1');

    const starting = await waitFor('a spare replica process', () => children(child.pid!).find((pid) => commandLine(pid).includes('--replica=(spare')));
    expect(commandLine(starting)).toContain(path.join(REPO_ROOT, 'dist', 'endpoints', 'replica-process.js'));
    const spare = await waitFor('the spare to be ready', () => spareOf(child.pid!));
    expect(spare).toBe(starting);
    expect((await a.action('waker', 'scale-to-zero')).status).toBe(200);
    await a.until('waker', 'scaledToZero');

    const woke = await call(s, 'waker', { inputs: 'I love this' }, { 'x-scale-up-timeout': '60' });
    expect(woke.status).toBe(200);
    expect(woke.json[0][0].label).toMatch(/POSITIVE|NEGATIVE/);
    const [second] = ((await a.metrics('waker')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect(second).toBe(spare);
    // The spare took the endpoint's name: `ps` tells which endpoint it serves.
    expect(commandLine(spare)).toContain('--replica=waker-2');

    const next = await waitFor('a new spare', () => spareOf(child.pid!));
    expect(next).not.toBe(spare);
    // The last endpoint gone, nothing is left to wake: its spare goes too.
    expect((await a.remove('waker')).status).toBe(200);
    await waitFor('the spare to stop', () => (processAlive(next) ? undefined : true), 10_000);
  });
});

describe('without a spare replica', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startEndpointServer({ endpointSpareReplica: false });
  });
  afterAll(() => s.close());

  it('starts no process ahead of need', async () => {
    const a = api(s);
    await a.create({ name: 'alone', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('alone', 'running');
    // Past the point where a spare would have been started (1 s after the first replica).
    await new Promise((r) => setTimeout(r, 2000));
    const replicas = ((await a.metrics('alone')).json.replicaList as { pid: number }[]).map((r) => r.pid);
    expect(replicas).toHaveLength(1);
    expect(children(process.pid).filter((pid) => commandLine(pid).includes('--replica='))).toEqual(replicas);
    expect(s.composed.deps.endpoints?.sparePid).toBeUndefined();
    await a.remove('alone');
  });
});
