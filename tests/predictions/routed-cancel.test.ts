import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRouterFile } from '../../src/router/config.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { fastTimeouts, startSim } from '../helpers/router.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { until } from './receiver.ts';

/** Cancelling a prediction that runs on a hosted provider cancels it there too, through the provider's own API. */
const MODEL = 'black-forest-labs/FLUX.1-schnell';
const CANCEL = 'POST /v1/predictions/:id/cancel';
const POLL = 'GET /v1/predictions/:id';

let server: TestServer;
let replicate: Simulator & { api: string };

beforeAll(async () => {
  // Every provider job takes 5 s: long enough to be cancelled while the provider still runs it.
  replicate = await startSim('replicate', { latencyMs: { mean: 5000, jitter: 0 } });
  const routerFile = parseRouterFile({
    routing: { retries: 0, backoffMs: 5, timeouts: { ...fastTimeouts, firstByteMs: 10_000, totalMs: 20_000 } },
    providers: [{ name: 'replicate', type: 'replicate', baseUrl: replicate.api, options: { pollIntervalMs: 10, waitSeconds: 0 } }],
    models: [{ id: MODEL, task: 'text-to-image', providers: [{ provider: 'replicate', id: 'black-forest-labs/flux-schnell' }] }],
  });
  server = await startServer({}, { routerFile });
});
afterAll(async () => {
  await server?.close();
  await replicate?.close();
});

describe('a routed prediction', () => {
  it('is cancelled at the provider when it is cancelled here, and ends canceled', async () => {
    const created = await fetch(`${server.url}/v1/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: MODEL, input: { prompt: 'a slow fox' } }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    // Running: modelhost is polling the provider's job.
    await until(() => (replicate.sim.stats.byRoute[POLL] ?? 0) >= 2);
    expect(replicate.sim.stats.byRoute[CANCEL] ?? 0).toBe(0);

    const cancel = await fetch(`${server.url}/v1/predictions/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    await until(() => (replicate.sim.stats.byRoute[CANCEL] ?? 0) === 1);

    let status = '';
    await until(async () => {
      status = ((await (await fetch(`${server.url}/v1/predictions/${id}`)).json()) as { status: string }).status;
      return status === 'canceled';
    });
    expect(status).toBe('canceled');
    // Polling stopped with the cancel: the provider is not asked again.
    const polls = replicate.sim.stats.byRoute[POLL];
    await new Promise((r) => setTimeout(r, 100));
    expect(replicate.sim.stats.byRoute[POLL]).toBe(polls);
  });
});
