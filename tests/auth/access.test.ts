import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compose } from '../../src/compose.ts';
import { loadConfig } from '../../src/config.ts';
import { postgresStore } from '../helpers/databases.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { postJson } from '../helpers/server.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const LID = 'facebook/fasttext-lid-176';
const lines: string[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    lines.push(chunk.toString());
    done();
  },
});

interface Started {
  url: string;
  close(): Promise<void>;
  createToken(body: Record<string, unknown>, auth?: string): Promise<{ token: string; id: string }>;
}

async function start(overrides: Record<string, unknown>, tiers?: unknown[]): Promise<Started> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mh-access-'));
  const config = { ...loadConfig({ modelsDir: TEST_MODELS_DIR, port: 0, dataDir, waitForModelByDefault: true }, {}), ...overrides };
  const composed = await compose(config as never, {
    logger: { level: 'info', stream: logStream },
    tiers: (tiers as never) ?? [{ name: 'anonymous' }, { name: 'free' }, { name: 'tiny', requestsPerMinute: 3 }],
  });
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(composed.app.server.address() as { port: number }).port}`;
  return {
    url,
    close: () => composed.close(),
    async createToken(body, auth) {
      const res = await postJson(`${url}/api/tokens`, body, auth ? { authorization: auth } : {});
      expect(res.status).toBe(201);
      return { token: res.json.token, id: res.json.id };
    },
  };
}

const backends: Array<[string, () => Promise<{ database?: string; cleanup: () => Promise<void> }>]> = [
  ['SQLite', async () => ({ cleanup: async () => undefined })],
  [
    'PostgreSQL',
    async () => {
      const pg = await postgresStore();
      await pg.store.close();
      return { database: pg.url, cleanup: pg.cleanup };
    },
  ],
];

describe.each(backends)('tokens and scopes on %s', (_name, backend) => {
  let server: Started;
  let db: { database?: string; cleanup: () => Promise<void> };
  let admin: string;
  let user: string;
  let userId: string;
  beforeAll(async () => {
    db = await backend();
    server = await start({ database: db.database });
    // No token yet, loopback only: anonymous callers may bootstrap the first (admin) token.
    admin = (await server.createToken({ name: 'root', scopes: ['admin', 'inference'] })).token;
    ({ token: user, id: userId } = await server.createToken({ name: 'app', scopes: ['inference'], tier: 'tiny' }, `Bearer ${admin}`));
    await new Promise((r) => setTimeout(r, 600)); // the "any token exists?" cache
  });
  afterAll(async () => {
    await server?.close();
    await db?.cleanup();
  });

  const call = (auth?: string, url = `/models/${LID}`) => postJson(server.url + url, { inputs: 'Bonjour tout le monde' }, auth ? { authorization: auth } : {});

  it('serves a valid token, tokens are mh_ + 43 base62 characters', async () => {
    expect(user).toMatch(/^mh_[0-9A-Za-z]{43}$/);
    const res = await call(`Bearer ${user}`);
    expect(res.status).toBe(200);
    expect(res.json[0][0].label).toBe('fr');
  });

  it('once a token exists, calls without one get 401 in the API shape', async () => {
    const hf = await call();
    expect(hf.status).toBe(401);
    expect(typeof hf.json.error).toBe('string');
    expect(hf.json.error).toMatch(/Authorization: Bearer/);
    const oa = await postJson(`${server.url}/v1/embeddings`, { model: 'tiny/minilm-embed', input: 'x' });
    expect(oa.status).toBe(401);
    expect(oa.json.error.type).toBe('authentication_error');
  });

  it('malformed, wrong, and unknown tokens get 401 without the value echoed', async () => {
    for (const auth of ['Basic abc', 'Bearer', `Bearer ${user}x`, 'Bearer mh_' + 'A'.repeat(43), `Bearer ${user.slice(0, -1)}${user.endsWith('B') ? 'C' : 'B'}`]) {
      const res = await call(auth);
      expect(res.status).toBe(401);
      expect(res.text).not.toContain(user.slice(3, 20));
    }
  });

  it('wrong scope: 403 that names the scope', async () => {
    const res = await fetch(`${server.url}/api/tokens`, { headers: { authorization: `Bearer ${user}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/admin/);
  });

  it('lists tokens without hashes or values', async () => {
    const res = await fetch(`${server.url}/api/tokens`, { headers: { authorization: `Bearer ${admin}` } });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain(userId);
    expect(text).not.toContain(user);
    expect(text).not.toMatch(/"hash"/);
  });

  it('rate limits: 429 with Retry-After and X-RateLimit-*, by tier', async () => {
    const fresh = (await server.createToken({ name: 'limited', tier: 'tiny' }, `Bearer ${admin}`)).token;
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await call(`Bearer ${fresh}`);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(last!.headers.get('x-ratelimit-limit')).toBe('3');
    expect(last!.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(last!.json.error).toMatch(/tiny/);
  });

  it('revoked and expired tokens are refused', async () => {
    const doomed = await server.createToken({ name: 'doomed' }, `Bearer ${admin}`);
    expect((await call(`Bearer ${doomed.token}`)).status).toBe(200);
    const del = await fetch(`${server.url}/api/tokens/${doomed.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
    expect(del.status).toBe(204);
    expect((await call(`Bearer ${doomed.token}`)).status).toBe(401);
    const soon = await server.createToken({ name: 'short', expiresAt: new Date(Date.now() + 800).toISOString() }, `Bearer ${admin}`);
    expect((await call(`Bearer ${soon.token}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 900));
    const expired = await call(`Bearer ${soon.token}`);
    expect(expired.status).toBe(401);
    expect(expired.json.error).toMatch(/expired/);
  });

  it('records usage and aggregates it by token, model and day', async () => {
    const before = await fetch(`${server.url}/api/usage?by=token,model`, { headers: { authorization: `Bearer ${admin}` } });
    const rows0 = ((await before.json()) as { rows: Array<{ token: string; model: string; requests: number }> }).rows;
    const n0 = rows0.find((r) => r.token === userId && r.model === LID)?.requests ?? 0;
    for (let i = 0; i < 2; i++) await call(`Bearer ${user}`);
    const after = await fetch(`${server.url}/api/usage?by=token,model`, { headers: { authorization: `Bearer ${admin}` } });
    const rows = ((await after.json()) as { rows: Array<{ token: string; model: string; requests: number }> }).rows;
    const n = rows.find((r) => r.token === userId && r.model === LID)?.requests ?? 0;
    expect(n).toBeGreaterThanOrEqual(n0 + 1); // the tiny tier may have refused some; refusals are recorded too
    const byDay = await fetch(`${server.url}/api/usage?by=day`, { headers: { authorization: `Bearer ${admin}` } });
    const days = ((await byDay.json()) as { rows: Array<{ day: string }> }).rows;
    expect(days.at(-1)!.day).toBe(new Date().toISOString().slice(0, 10));
    const bad = await fetch(`${server.url}/api/usage?by=color`, { headers: { authorization: `Bearer ${admin}` } });
    expect(bad.status).toBe(400);
  });

  it('never writes a token value into the log', () => {
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(0);
    expect(log).not.toContain(user);
    expect(log).not.toContain(admin);
  });
});

describe('anonymous access', () => {
  let server: Started | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('on loopback with no token: the owner, never limited, whatever the anonymous tier says; usage still recorded', async () => {
    server = await start({}, [{ name: 'anonymous', requestsPerMinute: 2, concurrent: 1 }, { name: 'free' }]);
    lines.length = 0;
    const statuses = await Promise.all(Array.from({ length: 8 }, () => postJson(`${server!.url}/models/${LID}`, { inputs: 'hallo welt' }).then((r) => r.status)));
    expect(statuses).toEqual(Array(8).fill(200));
    expect(lines.join('')).toMatch(/without a token as the owner, without limits/);
    // The owner's calls are in usage, so the console shows them.
    const usage = await fetch(`${server.url}/api/usage?by=model`).then((r) => r.json() as Promise<{ rows: { model: string; requests: number }[] }>);
    expect(usage.rows.find((r) => r.model === LID)?.requests).toBeGreaterThanOrEqual(8);
  });

  it('--anonymous-tier beyond loopback: callers without a token get that tier, and inference only', async () => {
    server = await start({ host: '0.0.0.0', anonymousTier: 'tiny' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await postJson(`${server.url}/models/${LID}`, { inputs: 'hallo welt' })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const admin = await fetch(`${server.url}/api/tokens`);
    expect(admin.status).toBe(401);
    expect(((await admin.json()) as { error: string }).error).toMatch(/"admin" scope/);
  });

  it('an --anonymous-tier that is not a tier stops the start, naming the tiers', async () => {
    await expect(start({ anonymousTier: 'nope' })).rejects.toThrow(/anonymous tier "nope" is not among the tiers \(anonymous, free, tiny\)/);
  });

  it('listening beyond loopback: a token is required even before one exists', async () => {
    server = await start({ host: '0.0.0.0' });
    const res = await postJson(`${server.url}/models/${LID}`, { inputs: 'hallo welt' });
    expect(res.status).toBe(401);
  });

  it('--auth off serves everyone', async () => {
    server = await start({ host: '0.0.0.0', auth: 'off' });
    expect((await postJson(`${server.url}/models/${LID}`, { inputs: 'hallo welt' })).status).toBe(200);
  });
});

describe('limits whose store is down', () => {
  it('refuse with a 503 that says so, rather than serve unmetered', async () => {
    // Callers without a token at a limited tier (the loopback owner is never limited, so never asks the limiter).
    const server = await start({ redis: 'redis://127.0.0.1:1', host: '0.0.0.0', anonymousTier: 'anonymous' }, [{ name: 'anonymous', requestsPerMinute: 100 }, { name: 'free' }]);
    try {
      const res = await postJson(`${server.url}/models/${LID}`, { inputs: 'hallo welt' });
      expect(res.status).toBe(503);
      expect(res.json.error).toMatch(/Rate limits cannot be checked/);
    } finally {
      await server.close();
    }
  }, 30_000);
});
