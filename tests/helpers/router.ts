import { parseRouterFile } from '../../src/router/config.ts';
import type { FaultPlanInput } from '../../src/simulate/fault-plan.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import { simulators } from '../../src/simulate/index.ts';
import { startServer, type TestServer } from './server.ts';

export type SimKind = keyof typeof simulators;

/** A provider simulator on a loopback port; `api` is the base URL an adapter is given. */
export async function startSim(kind: SimKind, plan: FaultPlanInput = {}): Promise<Simulator & { api: string }> {
  const entry = simulators[kind]!;
  const { app, sim } = entry.factory({ plan: { latencyMs: { mean: 2, jitter: 0 }, ...plan } });
  const started = await listen(app, sim);
  return { ...started, api: started.url + entry.apiPath };
}

/** A port nothing listens on (connection refused). */
export async function closedPort(): Promise<string> {
  const { app, sim } = simulators['openai-compatible']!.factory({});
  const s = await listen(app, sim);
  await s.close();
  return s.url;
}

/** modelhost over the tiny models with the given providers file. */
export function startRouted(file: unknown): Promise<TestServer> {
  return startServer({}, { routerFile: parseRouterFile(file) });
}

/** Short timeouts so failure cases finish fast. */
export const fastTimeouts = { connectMs: 500, firstByteMs: 400, idleMs: 400, totalMs: 3000 };
