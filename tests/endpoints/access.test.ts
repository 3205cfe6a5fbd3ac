import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { api, call, startEndpointServer } from './helpers.ts';

let s: TestServer;
let alice: string;
let aliceId: string;
let aliceNoEndpoints: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  s = await startEndpointServer();
  const tokens = s.composed.deps.access!.tokens;
  const created = await tokens.create({ name: 'alice', owner: 'alice', scopes: ['inference', 'endpoints'] });
  alice = created.token;
  aliceId = created.row.id;
  aliceNoEndpoints = (await tokens.create({ name: 'alice-inference', owner: 'alice', scopes: ['inference'] })).token;
  bob = (await tokens.create({ name: 'bob', owner: 'bob', scopes: ['inference', 'endpoints'] })).token;
  admin = (await tokens.create({ name: 'root', owner: 'ops', scopes: ['admin', 'endpoints'] })).token;
});
afterAll(async () => {
  await s?.close();
});

describe('endpoint access', () => {
  it('a private endpoint answers only tokens of its owner with the endpoints scope', async () => {
    const a = api(s, 'alice', alice);
    const created = await a.create({ name: 'secret', type: 'private', model: { repository: 'tiny/bert-sentiment' } });
    expect(created.status).toBe(200);
    expect(created.json.status.createdBy.name).toBe('alice');
    await a.until('secret', 'running');

    const anonymous = await call(s, 'secret', { inputs: 'hi' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.error).toMatch(/private/);
    expect((await call(s, 'secret', { inputs: 'hi' }, { authorization: `Bearer ${bob}` })).status).toBe(403);
    expect((await call(s, 'secret', { inputs: 'hi' }, { authorization: `Bearer ${aliceNoEndpoints}` })).status).toBe(403);
    expect((await call(s, 'secret', { inputs: 'hi' }, { authorization: 'Bearer mh_notatoken' })).status).toBe(401);
    const ok = await call(s, 'secret', { inputs: 'hi' }, { authorization: `Bearer ${alice}` });
    expect(ok.status).toBe(200);
    // No shared tier limit headers: an endpoint has its own limits.
    expect(ok.headers.get('x-ratelimit-limit')).toBeNull();
    for (const r of [anonymous]) expect(r.text).not.toContain(alice);
    // Endpoint calls are in usage like any other: by token and with the endpoint as provider.
    await expect
      .poll(
        async () => {
          const res = await fetch(`${s.url}/api/usage?by=provider,token`, { headers: { authorization: `Bearer ${admin}` } });
          const rows = ((await res.json()) as { rows: { provider: string; token: string | null; requests: number; errors: number }[] }).rows;
          return rows.filter((r) => r.provider === 'endpoint:secret' && r.token === aliceId).map((r) => [r.requests, r.errors]);
        },
        { timeout: 5_000, interval: 100 },
      )
      .toEqual([[1, 0]]); // the one call alice made (refused calls are not the endpoint's)
  });

  it('namespaces belong to token owners; the admin scope reaches every namespace', async () => {
    expect((await api(s, 'alice', bob).list()).status).toBe(403);
    expect((await api(s, 'alice').list()).status).toBe(401);
    expect((await api(s, 'alice', aliceNoEndpoints).list()).status).toBe(403);
    const own = await api(s, 'alice', alice).list();
    expect(own.json.items.map((e: { name: string }) => e.name)).toEqual(['secret']);
    expect((await api(s, 'bob', bob).list()).json.items).toEqual([]);
    expect((await api(s, 'alice', admin).list()).json.items).toHaveLength(1);
    // whoami gives the namespace a client uses by default.
    const who = await (await fetch(`${s.url}/api/whoami-v2`, { headers: { authorization: `Bearer ${bob}` } })).json();
    expect(who.name).toBe('bob');
    // The Hugging Face v2 path reaches the same API.
    const v2 = await fetch(`${s.url}/v2/endpoint/alice/secret`, { headers: { authorization: `Bearer ${alice}` } });
    expect(v2.status).toBe(200);
    expect((await v2.json()).name).toBe('secret');
  });

  it('a protected endpoint wants any valid token; a public one none', async () => {
    const a = api(s, 'bob', bob);
    await a.create({ name: 'guarded', type: 'protected', model: { repository: 'tiny/bert-sentiment' } });
    await a.create({ name: 'open', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('guarded', 'running');
    await a.until('open', 'running');
    expect((await call(s, 'guarded', { inputs: 'hi' })).status).toBe(401);
    expect((await call(s, 'guarded', { inputs: 'hi' }, { authorization: `Bearer ${alice}` })).status).toBe(200);
    expect((await call(s, 'open', { inputs: 'hi' })).status).toBe(200);
  });

  it('has its own concurrency limit', async () => {
    const a = api(s, 'bob', bob);
    await a.create({ name: 'narrow', type: 'public', model: { repository: 'tiny/gpt2' }, compute: { scaling: { maxConcurrentRequests: 2 } } });
    await a.until('narrow', 'running');
    const results = await Promise.all(
      Array.from({ length: 8 }, () => call(s, 'narrow', { inputs: 'once upon a time', parameters: { max_new_tokens: 40 } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThan(0);
    expect(results.find((r) => r.status === 429)!.json.error).toMatch(/maxConcurrentRequests/);
  });
});
