/** Shared by the custom server endpoint tests: the two stand-in servers and pid bookkeeping. */
import path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.ts';
import type { TestServer } from '../helpers/server.ts';
import { api, processAlive } from './helpers.ts';

export const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
export const HF_SERVER = path.join(REPO_ROOT, 'tests', 'endpoints', 'custom-hf-server.py');

/** `modelhost simulate openai-compatible --port $PORT`, standing in for llama-server or vLLM. */
export function simulatorImage(plan?: object, extra: object = {}) {
  const args = [BIN, 'simulate', 'openai-compatible', '--port', '$PORT', ...(plan ? ['--plan', JSON.stringify(plan)] : [])];
  return { custom: { command: process.execPath, args, api: 'openai', startTimeout: 60, stopTimeout: 5, ...extra } };
}

/** The Python http.server speaking the HF route. */
export function hfImage(extra: object = {}, mode?: string) {
  return { custom: { command: 'python3', args: [HF_SERVER, ...(mode ? ['--mode', mode] : [])], api: 'hf', healthRoute: '/health', startTimeout: 30, stopTimeout: 5, ...extra } };
}

/** The pids of the endpoint's replicas now. */
export async function replicaPids(s: TestServer, name: string, ns = 'admin', token?: string): Promise<number[]> {
  const m = await api(s, ns, token).metrics(name);
  return ((m.json?.replicaList ?? []) as { pid: number | null }[]).map((r) => r.pid).filter((p): p is number => typeof p === 'number');
}

/** Waits until none of the pids is alive (processes are reaped asynchronously). */
export async function allGone(pids: number[], timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pids.every((p) => !processAlive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
