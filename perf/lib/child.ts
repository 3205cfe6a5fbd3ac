/**
 * Runs one of the bench's helper servers (fixed upstream, bare proxy) as its own Node process, so it never shares an
 * event loop with the load generator. The child prints one JSON line `{"listening": "<url>"}` once it accepts
 * connections; anything else it writes is kept for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

/** A child's exit, watched from its start: whether it has exited, and a stop that escalates to SIGKILL. */
export function watchExit(child: ChildProcess, graceMs: number): { exitCode(): number | null; stop(): Promise<void> } {
  let exited: number | null = null;
  const exit = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code ?? -1), resolve())));
  return {
    exitCode: () => exited,
    async stop() {
      if (exited !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

export async function startChild(script: string, args: string[], readyTimeoutMs = 30_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let lineBuffer = '';
  const life = watchExit(child, 5_000);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within ${readyTimeoutMs / 1000} s:\n${tail}`)), readyTimeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
      lineBuffer += chunk.toString();
      let nl: number;
      while ((nl = lineBuffer.indexOf('\n')) >= 0) {
        const line = lineBuffer.slice(0, nl).trim();
        lineBuffer = lineBuffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const msg = JSON.parse(line) as { listening?: string };
          if (msg.listening) {
            clearTimeout(timer);
            resolve(msg.listening);
          }
        } catch {
          // not our line
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with code ${code} before it listened:\n${tail}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    output: () => tail,
    stop: life.stop,
  };
}

/** True when this module is the script Node was started with (`node --import tsx file.ts`). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return !!entry && fileURLToPath(metaUrl) === path.resolve(entry);
}
