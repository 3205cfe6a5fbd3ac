import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

/** Predictions belong to the token that made them; tiers apply at submission; usage is recorded once. */
let server: TestServer;
let admin: string;
let alice: string;
let bob: string;
let limited: string;

beforeAll(async () => {
  server = await startServer({}, { tiers: [{ name: 'anonymous' }, { name: 'free' }, { name: 'tiny', requestsPerMinute: 2 }] });
  const mk = async (body: Record<string, unknown>, auth?: string) => {
    const res = await postJson(`${server.url}/api/tokens`, body, auth ? { authorization: `Bearer ${auth}` } : {});
    expect(res.status).toBe(201);
    return res.json.token as string;
  };
  admin = await mk({ name: 'admin', scopes: ['admin', 'inference'] });
  alice = await mk({ name: 'alice', owner: 'alice' }, admin);
  bob = await mk({ name: 'bob', owner: 'bob' }, admin);
  limited = await mk({ name: 'limited', owner: 'carol', tier: 'tiny' }, admin);
});
afterAll(async () => server?.close());

const create = (token: string | undefined, prompt: string, prefer?: string) =>
  postJson(`${server.url}/v1/models/tiny/bert-sentiment/predictions`, { input: { prompt } }, { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(prefer ? { prefer } : {}) });

describe('ownership, tiers and usage', () => {
  it('needs a token once tokens exist, in the problem shape', async () => {
    const res = await create(undefined, 'x');
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ status: 401, title: 'Unauthenticated' });
  });

  it('shows a prediction to its token only: others get 404, in get, cancel and list', async () => {
    const made = await create(alice, 'mine', 'wait=10');
    expect(made.status).toBe(201);
    expect(made.json.status).toBe('succeeded');
    const id = made.json.id as string;
    const get = (t: string) => fetch(`${server.url}/v1/predictions/${id}`, { headers: { authorization: `Bearer ${t}` } });
    expect((await get(alice)).status).toBe(200);
    expect((await get(bob)).status).toBe(404);
    expect((await postJson(`${server.url}/v1/predictions/${id}/cancel`, {}, { authorization: `Bearer ${bob}` })).status).toBe(404);
    const bobs = (await (await fetch(`${server.url}/v1/predictions`, { headers: { authorization: `Bearer ${bob}` } })).json()) as { results: { id: string }[] };
    expect(bobs.results.map((r) => r.id)).not.toContain(id);
  });

  it('refuses a limited caller at submit with 429 and Retry-After, creating nothing', async () => {
    expect((await create(limited, 'one')).status).toBe(201);
    expect((await create(limited, 'two')).status).toBe(201);
    const third = await create(limited, 'three');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(third.json).toMatchObject({ status: 429 });
    const list = (await (await fetch(`${server.url}/v1/predictions`, { headers: { authorization: `Bearer ${limited}` } })).json()) as { results: unknown[] };
    expect(list.results).toHaveLength(2);
  });

  it('records usage once per prediction, however often it is polled', async () => {
    const made = await create(bob, 'count me', 'wait=10');
    const id = made.json.id as string;
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/v1/predictions/${id}`, { headers: { authorization: `Bearer ${bob}` } });
    const usage = server.composed.deps.access!.usage;
    const total = async () =>
      (await usage.aggregate({ by: ['model'] })).filter((r) => r.model === 'tiny/bert-sentiment').reduce((n, r) => n + r.requests, 0);
    // alice 1 + carol 2 + bob 1 predictions, each recorded once when it ends (polls and submits are not model calls).
    const deadline = Date.now() + 10_000;
    while ((await total()) < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    expect(await total()).toBe(4);
  });
});
