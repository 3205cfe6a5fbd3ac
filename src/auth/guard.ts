/**
 * Who is calling and what they may do: `Authorization: Bearer mh_...` checked against the token store, scopes
 * per route, the caller's tier. Without a token:
 * - on a server that listens on loopback only and has no token yet, the caller is its owner: every scope, no
 *   limits (OWNER_TIER), usage still recorded;
 * - where the operator allows anonymous callers (`--anonymous-tier <tier>`), they get that tier and the
 *   `inference` scope only;
 * - everywhere else a token is required.
 */
import { ModelhostError } from '../core/errors.ts';
import type { Scope } from '../store/types.ts';
import { OWNER_TIER, type Tier } from './tiers.ts';
import type { TokenService, Verdict } from './tokens.ts';

export type AuthMode = 'auto' | 'required' | 'off';

export interface Principal {
  tokenId: string | null;
  name: string;
  /** Who owns the token: the namespace of its dedicated endpoints. Anonymous callers are the local admin. */
  owner: string;
  scopes: readonly Scope[];
  tier: Tier;
  anonymous: boolean;
}

/** The scope a route needs; null for open routes (health, metrics, the model catalogue, CORS preflights). */
export function scopeFor(method: string, path: string): Scope | null {
  if (method === 'OPTIONS') return null;
  if (path === '/health' || path === '/ready' || path === '/metrics') return null;
  // Dedicated endpoints check their own access type (public, protected, private); whoami needs no scope.
  if (path.startsWith('/endpoints/') || path === '/api/whoami-v2') return null;
  // Predictions authenticate their callers themselves (src/server/routes/predictions.ts): reading or polling one
  // is not an inference call, and the tier is applied once, when it is submitted. Output files and token
  // streams are reached through signed URLs.
  if (/^\/v1\/(?:predictions(?:\/|$)|models\/[^/]+\/[^/]+\/predictions$|deployments\/[^/]+\/[^/]+\/predictions$|webhooks\/|files\/)/.test(path)) return null;
  if (path.startsWith('/api/endpoints') || path.startsWith('/v2/endpoint')) return 'endpoints';
  if ((method === 'GET' || method === 'HEAD') && (path === '/api/models' || path.startsWith('/api/models/') || path === '/v1/models')) return null;
  // The Hub file API's paths-info is a file listing, open like the tree (a private repository checks itself).
  if (method === 'POST' && /^\/api\/models\/[^/]+\/[^/]+\/paths-info\//.test(path)) return null;
  // Web pages and their static files hold no data (the console reads admin routes); a Space's Gradio config
  // and API description say what /api/models says.
  if ((method === 'GET' || method === 'HEAD') && isOpenPage(path)) return null;
  if (path.startsWith('/api/')) return 'admin';
  return 'inference';
}

/**
 * `/spaces`, `/spaces/org/name[/config|/gradio_api/info|/resolve/...]`, `/ui/...`, `/admin[/...]`, and the model
 * page `/org/name` (a browser cannot send a token when it opens a link; a private model's page checks itself).
 */
function isOpenPage(path: string): boolean {
  return /^\/(?:spaces\/?|spaces\/[^/]+\/[^/]+(?:\/(?:config|gradio_api\/info|resolve\/.+))?|ui\/.+|admin(?:\/.*)?|(?!(?:api|v1|v2)\/)[^/]+\/[^/]+)$/.test(path);
}

const bearer = /^Bearer\s+(\S+)\s*$/i;

export class AuthError extends ModelhostError {
  constructor(status: 401 | 403, message: string) {
    super(status === 401 ? 'unauthorized' : 'forbidden', status, message);
  }
}

export interface GuardOptions {
  tokens: TokenService;
  tiers: Tier[];
  mode: AuthMode;
  /** The server listens on loopback only. */
  loopback: boolean;
  /** Serve callers without a token at this tier (the operator turned anonymous access on); else they need one. */
  anonymousTier?: string;
  log?: (message: string) => void;
}

export class Guard {
  private readonly tiers: Map<string, Tier>;
  private warnedAnonymous = false;

  constructor(private readonly opts: GuardOptions) {
    this.tiers = new Map(opts.tiers.map((t) => [t.name, t]));
    if (opts.tiers.length === 0) throw new Error('no tiers are defined');
    if (opts.anonymousTier !== undefined && !this.tiers.has(opts.anonymousTier)) {
      throw new Error(`the anonymous tier "${opts.anonymousTier}" is not among the tiers (${this.tierNames().join(', ')})`);
    }
  }

  hasTier(name: string): boolean {
    return this.tiers.has(name);
  }

  tierNames(): string[] {
    return [...this.tiers.keys()];
  }

  tier(name: string): Tier {
    // A token whose tier was removed from the configuration gets the lowest (first listed) tier rather than none.
    return this.tiers.get(name) ?? this.opts.tiers[0]!;
  }

  /** The person running a loopback-only server before any token exists (or any caller under `--auth off`). */
  private owner(): Principal {
    return { tokenId: null, name: 'owner', owner: 'admin', scopes: ['inference', 'endpoints', 'admin'], tier: OWNER_TIER, anonymous: true };
  }

  /** A caller without a token where the operator allows them: inference only, at the anonymous tier. */
  private anonymous(tier: string, scope: Scope | null): Principal {
    if (scope !== null && scope !== 'inference') {
      throw new AuthError(401, `A token with the "${scope}" scope is required for this route: send the header "Authorization: Bearer mh_...".`);
    }
    return { tokenId: null, name: 'anonymous', owner: 'anonymous', scopes: ['inference'], tier: this.tier(tier), anonymous: true };
  }

  /** The caller, or a 401/403 that says what to send. Never repeats the token it was given. */
  async authenticate(authorization: string | undefined, scope: Scope | null): Promise<Principal> {
    return this.authenticateNow(authorization, scope);
  }

  /**
   * `authenticate()` without a promise when every lookup it needs is cached (the hot path); throws the
   * 401/403 synchronously then.
   */
  authenticateNow(authorization: string | undefined, scope: Scope | null): Principal | Promise<Principal> {
    if (this.opts.mode === 'off') return this.owner();
    // Clients that always send a key (the OpenAI SDK needs one, the HF client sends its hf_ token) count as
    // anonymous where anonymous calls are allowed, unless what they send is a modelhost token.
    const modelhostToken = authorization !== undefined && /^Bearer\s+mh_/i.test(authorization);
    if (!modelhostToken && this.opts.mode === 'auto' && this.opts.loopback) {
      const exists = this.opts.tokens.existsNow();
      if (exists instanceof Promise) return exists.then((e) => this.afterExists(e, authorization, scope));
      return this.afterExists(exists, authorization, scope);
    }
    return this.afterExists(true, authorization, scope);
  }

  private afterExists(tokensExist: boolean, authorization: string | undefined, scope: Scope | null): Principal | Promise<Principal> {
    const modelhostToken = authorization !== undefined && /^Bearer\s+mh_/i.test(authorization);
    if (!modelhostToken && !tokensExist) {
      if (!this.warnedAnonymous) {
        this.warnedAnonymous = true;
        this.opts.log?.(
          'serving calls without a token as the owner, without limits: the server listens on loopback only and no token exists yet (create one with `modelhost tokens create`; from then on every call needs one)',
        );
      }
      return this.owner();
    }
    if (!modelhostToken && this.opts.anonymousTier !== undefined) return this.anonymous(this.opts.anonymousTier, scope);
    if (authorization === undefined || authorization === '') {
      throw new AuthError(401, 'A token is required: send the header "Authorization: Bearer mh_..." (create a token with `modelhost tokens create`).');
    }
    const m = bearer.exec(authorization);
    if (!m) throw new AuthError(401, 'Malformed Authorization header: expected "Bearer mh_...".');
    const verdict = this.opts.tokens.verifyNow(m[1]!);
    return verdict instanceof Promise ? verdict.then((v) => this.principalOf(v, scope)) : this.principalOf(verdict, scope);
  }

  private principalOf(verdict: Verdict, scope: Scope | null): Principal {
    if (!verdict.ok) {
      const why = { malformed: 'is not a modelhost token', unknown: 'is not valid', revoked: 'has been revoked', expired: 'has expired' }[verdict.reason];
      throw new AuthError(401, `The token ${why}. Create a new one with \`modelhost tokens create\`.`);
    }
    const t = verdict.token;
    if (scope !== null && !t.scopes.includes(scope)) {
      throw new AuthError(403, `The token "${t.name}" lacks the "${scope}" scope this route needs (it has: ${t.scopes.join(', ') || 'none'}).`);
    }
    return { tokenId: t.id, name: t.name, owner: t.owner, scopes: t.scopes, tier: this.tier(t.tier), anonymous: false };
  }

}
