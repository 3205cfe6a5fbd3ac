/** Builds the access pieces (store, tokens, guard, limiter, usage recorder) from the server settings. */
import type { Store } from '../store/types.ts';
import { Guard, type AuthMode } from './guard.ts';
import { createLimiter, type Limiter } from './limits.ts';
import { defaultTiers, loadTiersFile, type Tier } from './tiers.ts';
import { TokenService } from './tokens.ts';
import { UsageRecorder } from './usage-recorder.ts';

export interface AccessSettings {
  host: string;
  auth: AuthMode;
  redis?: string;
  tiersFile?: string;
  /** Tiers given directly (tests); else the file's, else the built-in ones. */
  tiers?: Tier[];
  defaultTier: string;
  /** `--anonymous-tier`: callers without a token are served at this tier (else only the loopback owner is). */
  anonymousTier?: string;
  reservationTtlSeconds?: number;
  /** A limiter kept elsewhere (a cluster worker asks the primary's); else one is made here. */
  limiter?: Limiter;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface AccessParts {
  tokens: TokenService;
  guard: Guard;
  limiter: Limiter;
  recorder: UsageRecorder;
  close(): Promise<void>;
}

/** Listening only on loopback: the caller is the owner until a token exists. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function buildAccess(store: Store, s: AccessSettings): AccessParts {
  const tiers = s.tiers ?? (s.tiersFile ? loadTiersFile(s.tiersFile) : defaultTiers);
  if (!tiers.some((t) => t.name === s.defaultTier)) {
    throw new Error(`default tier "${s.defaultTier}" is not among the tiers (${tiers.map((t) => t.name).join(', ')})`);
  }
  const tokens = new TokenService(store.tokens, { defaultTier: s.defaultTier });
  const guard = new Guard({ tokens, tiers, mode: s.auth, loopback: isLoopback(s.host), anonymousTier: s.anonymousTier, log: (m) => s.log('info', m) });
  const limiter = s.limiter ?? createLimiter({ redis: s.redis, keyPrefix: 'modelhost:limits', reservationTtlMs: (s.reservationTtlSeconds ?? 600) * 1000 });
  const recorder = new UsageRecorder(store.usage, { log: s.log });
  return {
    tokens,
    guard,
    limiter,
    recorder,
    async close() {
      await recorder.close();
      await limiter.close();
    },
  };
}
