import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import type { Config } from '../../src/config.ts';

export const FAST_SCALING = { tickMs: 100, scaleUpWindowMs: 1000, scaleDownAfterMs: 1500, drainMs: 5000 };

export function startEndpointServer(overrides: Partial<Config> = {}) {
  return startServer(overrides, { endpointScaling: FAST_SCALING });
}

export interface EndpointJson {
  name: string;
  type: string;
  model: { repository: string; task: string; revision: string };
  compute: { threads: number; memoryMb: number; scaling: { minReplica: number; maxReplica: number; scaleToZeroTimeout: number | null } };
  status: { state: string; message: string; url?: string; readyReplica: number; targetReplica: number };
}

export function api(s: TestServer, ns = 'admin', token?: string) {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const base = `${s.url}/api/endpoints/${ns}`;
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  return {
    create: (body: unknown) => send('POST', '', body),
    get: (name: string) => send('GET', `/${name}`),
    list: () => send('GET', ''),
    update: (name: string, body: unknown) => send('PUT', `/${name}`, body),
    remove: (name: string) => send('DELETE', `/${name}`),
    action: (name: string, action: 'pause' | 'resume' | 'scale-to-zero') => send('POST', `/${name}/${action}`),
    metrics: (name: string) => send('GET', `/${name}/metrics`),
    logs: (name: string) => send('GET', `/${name}/logs`),
    /** Polls until the endpoint is in `state` (and, for running, has `ready` replicas ready). */
    async until(name: string, state: string, ready = state === 'running' ? 1 : 0, timeoutMs = 30_000): Promise<EndpointJson> {
      const deadline = Date.now() + timeoutMs;
      let last: EndpointJson | undefined;
      while (Date.now() < deadline) {
        const r = await send('GET', `/${name}`);
        last = r.json as EndpointJson;
        if (last?.status?.state === state && last.status.readyReplica >= ready) return last;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`endpoint ${name} did not reach ${state} with ${ready} ready replica(s): last ${JSON.stringify(last?.status)}`);
    },
  };
}

export function call(s: TestServer, name: string, body: unknown, headers: Record<string, string> = {}) {
  return postJson(`${s.url}/endpoints/${name}`, body, headers);
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
