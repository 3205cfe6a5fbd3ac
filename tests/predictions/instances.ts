/** modelhost server processes for the crash and multi-instance tests (run from source with tsx: no build needed). */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';

export interface Instance {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startInstance(args: string[], port?: number): Promise<Instance> {
  const p = port ?? (await freePort());
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve', '--port', String(p), '--models-dir', TEST_MODELS_DIR, '--no-hf-cache', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO_ROOT },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${p}`;
  for (let i = 0; i < 600; i++) {
    if (await fetch(`${url}/ready`).then((r) => r.ok, () => false)) return { url, child, stderr: () => stderr };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`instance did not start: ${stderr}`);
}

export async function kill(inst: Instance, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (inst.child.exitCode !== null || inst.child.signalCode !== null) return;
  const exited = new Promise((r) => inst.child.once('exit', r));
  inst.child.kill(signal);
  await exited;
}

/** Submits with at most `parallel` requests in flight; answers the ids in order. */
export async function submitMany(url: string, n: number, body: (i: number) => unknown, parallel = 32, log: () => string = () => ''): Promise<string[]> {
  const ids: string[] = new Array<string>(n);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const res = await fetch(`${url}/v1/predictions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(i)) });
      const json = (await res.json()) as { id: string };
      if (res.status !== 201) throw new Error(`submission ${i} answered ${res.status}: ${JSON.stringify(json)}\n${log().slice(-3000)}`);
      ids[i] = json.id;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}
