/**
 * API tokens: `mh_` and 43 random base62 characters, shown once, stored only as a SHA-256 hash. A token is
 * found by its hash (the hash of a high-entropy secret reveals nothing to time) and the stored hash is
 * compared in constant time anyway. Lookups are cached for at most `cacheMs`, so a revocation made on any
 * instance is honoured by every instance within that time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { NewToken, Scope, TokenRow, TokenStore } from '../store/types.ts';

export const TOKEN_PREFIX = 'mh_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TOKEN_SHAPE = /^mh_[0-9A-Za-z]{43}$/;

/** 43 base62 characters ≈ 256 bits. Rejection sampling keeps every character equally likely. */
export function generateToken(): string {
  let out = TOKEN_PREFIX;
  while (out.length < TOKEN_PREFIX.length + 43) {
    for (const byte of randomBytes(64)) {
      if (byte < 248 && out.length < TOKEN_PREFIX.length + 43) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function isWellFormedToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export type Verdict =
  | { ok: true; token: TokenRow }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

export interface CreateTokenInput {
  name: string;
  owner?: string;
  scopes?: Scope[];
  tier?: string;
  expiresAt?: Date | null;
}

export class TokenService {
  private cache = new Map<string, { row: TokenRow | undefined; at: number; digest: Buffer | undefined }>();
  private anyToken: { value: boolean; at: number } | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly opts: { cacheMs?: number; defaultTier?: string; now?: () => number } = {},
  ) {}

  private get cacheMs() {
    return this.opts.cacheMs ?? 500;
  }

  private now() {
    return this.opts.now?.() ?? Date.now();
  }

  /** Creates a token; the returned `token` is the only time its value is seen. */
  async create(input: CreateTokenInput): Promise<{ token: string; row: TokenRow }> {
    const token = generateToken();
    const row: NewToken = {
      id: randomUUID(),
      name: input.name,
      owner: input.owner ?? 'admin',
      scopes: input.scopes ?? ['inference'],
      tier: input.tier ?? this.opts.defaultTier ?? 'free',
      hash: hashToken(token),
      prefix: token.slice(0, 7),
      expiresAt: input.expiresAt ?? null,
    };
    const created = await this.store.create(row);
    this.anyToken = { value: true, at: this.now() };
    return { token, row: created };
  }

  list(): Promise<TokenRow[]> {
    return this.store.list();
  }

  async revoke(id: string): Promise<boolean> {
    const done = await this.store.revoke(id, new Date(this.now()));
    this.cache.clear();
    return done;
  }

  /** Whether any token exists (cached like lookups): decides whether loopback callers may stay anonymous. */
  /** `exists()` without a promise when the cached answer is fresh (the hot path). */
  existsNow(): boolean | Promise<boolean> {
    if (this.anyToken && this.now() - this.anyToken.at < this.cacheMs) return this.anyToken.value;
    return this.exists();
  }

  /** `verify()` without a promise when the token's lookup is cached and fresh (the hot path). */
  verifyNow(token: string): Verdict | Promise<Verdict> {
    if (!isWellFormedToken(token)) return { ok: false, reason: 'malformed' };
    const digest = createHash('sha256').update(token).digest();
    const entry = this.cache.get(digest.toString('hex'));
    if (!entry || this.now() - entry.at >= this.cacheMs) return this.verify(token);
    return this.judge(entry, digest);
  }

  async exists(): Promise<boolean> {
    const t = this.now();
    if (this.anyToken && t - this.anyToken.at < this.cacheMs) return this.anyToken.value;
    const value = (await this.store.count()) > 0;
    this.anyToken = { value, at: t };
    return value;
  }

  async verify(token: string): Promise<Verdict> {
    if (!isWellFormedToken(token)) return { ok: false, reason: 'malformed' };
    const digest = createHash('sha256').update(token).digest();
    const hash = digest.toString('hex');
    const t = this.now();
    let entry = this.cache.get(hash);
    if (!entry || t - entry.at >= this.cacheMs) {
      const row = await this.store.byHash(hash);
      entry = { row, at: t, digest: row ? Buffer.from(row.hash, 'hex') : undefined };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    return this.judge(entry, digest);
  }

  private judge(entry: { row: TokenRow | undefined; digest: Buffer | undefined }, digest: Buffer): Verdict {
    const row = entry.row;
    // The stored hash, decoded once per cache entry, against this token's, in constant time.
    if (!row || !entry.digest || entry.digest.length !== digest.length || !timingSafeEqual(entry.digest, digest)) {
      return { ok: false, reason: 'unknown' };
    }
    if (row.revokedAt) return { ok: false, reason: 'revoked' };
    if (row.expiresAt && row.expiresAt.getTime() <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, token: row };
  }
}
