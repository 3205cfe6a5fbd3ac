/**
 * Processes the test run owns: each service is a direct child started through `setpriv --pdeathsig`, so the
 * kernel signals it when the vitest process dies for any reason (even SIGKILL), and a normal stop waits for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface OwnedChild {
  child: ChildProcess;
  pid: number;
  /** What the service printed (bounded), for the error when it does not start. */
  output(): string;
}

export interface SpawnOptions {
  /** Signal the service gets when this process dies: the one that makes it shut down at once. */
  deathSignal: 'TERM' | 'QUIT';
  /** Run as this uid/gid (setpriv drops privileges before exec), for servers that refuse to run as root. */
  user?: { uid: number; gid: number } | undefined;
}

/** Starts `command` as a child of this process that cannot outlive it. */
export function spawnOwned(command: string, args: string[], options: SpawnOptions): OwnedChild {
  const priv = [`--pdeathsig=${options.deathSignal}`];
  if (options.user) priv.push(`--reuid=${options.user.uid}`, `--regid=${options.user.gid}`, '--clear-groups');
  const child = spawn('setpriv', [...priv, '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A spawn failure (no setpriv) is reported by the pid check below; unlistened, the event would crash vitest.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`could not start ${command} through setpriv`);
  return { child, pid: child.pid, output: () => output };
}

/** Runs a command to completion as `user` (or as this user), failing with its output when it fails. */
export async function run(command: string, args: string[], user?: { uid: number; gid: number }): Promise<void> {
  const owned = spawnOwned(command, args, { deathSignal: 'TERM', user });
  const code = await new Promise<number | null>((resolve, reject) => {
    owned.child.once('error', reject);
    owned.child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`${command} failed (exit ${code}): ${owned.output().trim()}`);
}

/** Sends `signal`, then SIGKILL if the process is still there after `graceMs`; resolves once it has exited. */
export async function stop(owned: OwnedChild, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  const { child } = owned;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** A TCP port free on 127.0.0.1 right now (the caller retries if another process takes it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Polls `ready` until it resolves true; fails early with the service's output when the child exits, and after
 * `timeoutMs` otherwise.
 */
export async function waitReady(name: string, owned: OwnedChild, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owned.child.exitCode !== null || owned.child.signalCode !== null) {
      throw new Error(`${name} exited before it was ready: ${owned.output().trim()}`);
    }
    if (await ready().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} was not ready after ${timeoutMs / 1000} s: ${owned.output().trim()}`);
}
