import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastTimeouts, startRouted } from '../helpers/router.ts';
import { postJson, type TestServer } from '../helpers/server.ts';

/** A provider that echoes the key it was sent in its error bodies must not leak it to modelhost's callers. */
describe('provider keys never reach callers', () => {
  const key = 'sk-provider-key-0123456789';
  const upstream = Fastify();
  let server: TestServer;
  beforeAll(async () => {
    upstream.post('/v1/chat/completions', async (request, reply) => {
      const auth = String(request.headers.authorization);
      const status = (request.body as { max_tokens?: number }).max_tokens === 1 ? 400 : 500;
      return reply.code(status).send({ error: { message: `rejected request with ${auth}`, type: 'x', code: status } });
    });
    await upstream.listen({ port: 0, host: '127.0.0.1' });
    process.env.ECHOING_PROVIDER_KEY = key;
    const port = (upstream.server.address() as { port: number }).port;
    server = await startRouted({
      routing: { retries: 0, timeouts: fastTimeouts },
      providers: [{ name: 'echo', type: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}/v1`, apiKeyEnv: 'ECHOING_PROVIDER_KEY' }],
      models: [{ id: 'sim/echo', task: 'conversational', providers: [{ provider: 'echo' }] }],
    });
  });
  afterAll(async () => {
    await server?.close();
    await upstream.close();
    delete process.env.ECHOING_PROVIDER_KEY;
  });

  it('in a caller error passed back (400) and in a failover summary (502)', async () => {
    const bad = await postJson(`${server.url}/v1/chat/completions`, { model: 'sim/echo', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('rejected request with Bearer [redacted]');
    expect(bad.text).not.toContain(key);
    const down = await postJson(`${server.url}/v1/chat/completions`, { model: 'sim/echo', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 });
    expect(down.status).toBe(502);
    expect(down.text).toContain('[redacted]');
    expect(down.text).not.toContain(key);
    const stats = await (await fetch(`${server.url}/api/providers`)).text();
    expect(stats).not.toContain(key);
  });
});
