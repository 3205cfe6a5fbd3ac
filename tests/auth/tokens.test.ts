import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { generateToken, hashToken, isWellFormedToken, sameHash, TokenService } from '../../src/auth/tokens.ts';
import type { NewToken, TokenRow, TokenStore } from '../../src/store/types.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

/** A TokenStore in memory that counts lookups. */
function memoryStore() {
  const rows = new Map<string, TokenRow>();
  let lookups = 0;
  const store: TokenStore = {
    async create(t: NewToken) {
      const row = { ...t, createdAt: new Date(), revokedAt: null };
      rows.set(t.id, row);
      return row;
    },
    async list() {
      return [...rows.values()];
    },
    async byHash(hash: string) {
      lookups++;
      const found = [...rows.values()].find((r) => r.hash === hash);
      return found && { ...found }; // a copy, as a database gives

    },
    async byId(id: string) {
      return rows.get(id);
    },
    async revoke(id: string, at: Date) {
      const r = rows.get(id);
      if (!r || r.revokedAt) return false;
      r.revokedAt = at;
      return true;
    },
    async count() {
      return rows.size;
    },
  };
  return { store, lookups: () => lookups };
}

describe('tokens', () => {
  it('are mh_ + 43 base62 characters, all different, and only their SHA-256 is kept', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(generateToken());
    expect(seen.size).toBe(1000);
    for (const t of seen) expect(isWellFormedToken(t)).toBe(true);
    // Every base62 character appears: the alphabet is used whole.
    const chars = new Set([...seen].join('').slice(3));
    expect(chars.size).toBeGreaterThanOrEqual(62);
    const { store } = memoryStore();
    const { token, row } = await new TokenService(store).create({ name: 'x' });
    expect(row.hash).toBe(crypto.createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(token);
    expect(row.prefix).toBe(token.slice(0, 7));
  });

  it('compares hashes in constant time (crypto.timingSafeEqual)', async () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect(sameHash(hashToken('a'), hashToken('a'))).toBe(true);
    expect(sameHash(hashToken('a'), hashToken('b'))).toBe(false);
    expect(sameHash('00', hashToken('b'))).toBe(false); // different lengths never reach the comparison
    expect(spy).toHaveBeenCalledTimes(2);
    const { store } = memoryStore();
    const service = new TokenService(store);
    const { token } = await service.create({ name: 'x' });
    spy.mockClear();
    expect((await service.verify(token)).ok).toBe(true);
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('caches lookups for at most cacheMs: a revocation elsewhere is seen within that time', async () => {
    let now = 0;
    const { store, lookups } = memoryStore();
    const here = new TokenService(store, { cacheMs: 500, now: () => now });
    const elsewhere = new TokenService(store, { cacheMs: 500, now: () => now });
    const { token, row } = await here.create({ name: 'x' });
    expect((await here.verify(token)).ok).toBe(true);
    expect((await here.verify(token)).ok).toBe(true);
    expect(lookups()).toBe(1);
    await elsewhere.revoke(row.id);
    now = 499;
    expect((await here.verify(token)).ok).toBe(true);
    now = 500;
    expect(await here.verify(token)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('says why a token is refused', async () => {
    let now = Date.now();
    const { store } = memoryStore();
    const service = new TokenService(store, { cacheMs: 0, now: () => now });
    expect(await service.verify('hello')).toEqual({ ok: false, reason: 'malformed' });
    expect(await service.verify(generateToken())).toEqual({ ok: false, reason: 'unknown' });
    const { token } = await service.create({ name: 'x', expiresAt: new Date(now + 1000) });
    expect((await service.verify(token)).ok).toBe(true);
    now += 1000;
    expect(await service.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });
});
