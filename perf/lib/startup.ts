/**
 * Start-up time as a user meets it: `npm start` (its `prestart` included) spawned from nothing until `GET /ready`
 * answers 200, and the same server started as `node bin/modelhost.js serve --preload all` (no npm, no prestart),
 * which isolates what npm and the tiny-model check add. Each round is a fresh process with its own data folder;
 * /ready is polled every 10 ms, so a figure is at most 10 ms late.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './server.ts';

export type StartCommand = 'npm-start' | 'serve';

/** Spawns one server, returns ms from spawn to its first /ready 200, and stops it (its whole process group). */
export async function timeToReady(root: string, command: StartCommand, timeoutMs = 120_000): Promise<number> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-startup-'));
  const flags = ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--auth', 'off', '--log-level', 'warn'];
  const [file, args] =
    command === 'npm-start'
      ? ['npm', ['start', '--silent', '--', ...flags]]
      : [process.execPath, [path.join(root, 'bin', 'modelhost.js'), 'serve', '--preload', 'all', ...flags]];
  const started = performance.now();
  // Its own process group: npm runs the server through a shell, and stopping the group stops all three.
  const child = spawn(file, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  try {
    for (;;) {
      if (exited) throw new Error(`${command} exited before it was ready:\n${stderr}`);
      if (performance.now() - started > timeoutMs) throw new Error(`${command} not ready after ${timeoutMs / 1000} s:\n${stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    if (!exited) {
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `rounds` fresh starts of `command`, in order; the first one is included (a cold file cache is part of it). */
export async function startupRounds(root: string, command: StartCommand, rounds: number, onRound?: (ms: number, i: number) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    out.push(await timeToReady(root, command));
    onRound?.(out.at(-1)!, i);
  }
  return out;
}
