/** Starts `modelhost serve` as a child process on a free 127.0.0.1 port and stops it again. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { watchExit } from './child.ts';

export interface ServerHandle {
  url: string;
  pid: number;
  /** The last lines the server wrote (for error messages). */
  output(): string;
  stop(): Promise<void>;
}

/** A port the OS just said was free (closed again before the server binds it; fine on a bench machine). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startServer(root: string, args: string[], readyTimeoutMs = 180_000): Promise<ServerHandle> {
  const port = await freePort();
  // Its own database, so a bench never meets the tokens (and the auth they turn on) of a server run by hand.
  const dataDir = args.includes('--data-dir') ? [] : ['--data-dir', mkdtempSync(path.join(os.tmpdir(), 'modelhost-bench-data-'))];
  // BENCH_SERVER_NODE_ARGS: extra node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'modelhost.js'), 'serve', '--host', '127.0.0.1', '--port', String(port), ...dataDir, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const life = watchExit(child, 10_000);
  const url = `http://127.0.0.1:${port}`;
  const handle: ServerHandle = {
    url,
    pid: child.pid!,
    output: () => tail,
    stop: life.stop,
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (life.exitCode() !== null) throw new Error(`server exited with code ${life.exitCode()} before it was ready:\n${tail}`);
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return handle;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`server not ready after ${readyTimeoutMs / 1000} s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
