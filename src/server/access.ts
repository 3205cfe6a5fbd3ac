/**
 * Access control on every call: who the caller is (401/403), whether their tier lets the call in now (429 with
 * Retry-After and X-RateLimit-*), and, when the answer is finished, the settlement of what was reserved and one
 * usage record. Health, metrics and the model catalogue stay open.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelhostError } from '../core/errors.ts';
import type { Guard, Principal } from '../auth/guard.ts';
import { scopeFor } from '../auth/guard.ts';
import type { Admission, Limiter, RateState } from '../auth/limits.ts';
import { unitLimit, type Tier } from '../auth/tiers.ts';
import { LimitExceededError } from '../auth/limits.ts';
import type { UsageRecorder } from '../auth/usage-recorder.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { Scope, UsageStore } from '../store/types.ts';

/** What a handler learned about the call it served, for the usage record and the budget. */
export interface CallUsage {
  provider: string;
  model: string;
  task: string;
  costUsd: number;
  computeMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  outputs?: number;
}

export type AccessRequest = FastifyRequest & { principal?: Principal; scope?: Scope; callUsage?: CallUsage; startedAt?: number };

/** Handlers call this once they know who answered and what it cost. */
export function noteUsage(request: FastifyRequest, usage: CallUsage): void {
  (request as AccessRequest).callUsage = usage;
}

export interface AccessDeps {
  guard: Guard;
  tokens: TokenService;
  usage: UsageStore;
  limiter: Limiter;
  recorder: UsageRecorder;
  /** `--auth off`: no tokens, no limits, no usage records (a trusted, single-user setup). */
  off?: boolean;
  /** The cost to reserve before a call (only asked when the caller's tier has a budget). */
  expectedCost(request: FastifyRequest): number;
}

const NOTHING_TO_SETTLE: Admission = { settle: async () => undefined };

function rateHeaders(reply: FastifyReply, rate: RateState | undefined) {
  if (!rate) return;
  reply.header('x-ratelimit-limit', String(rate.limit));
  reply.header('x-ratelimit-remaining', String(Math.max(0, rate.remaining)));
  reply.header('x-ratelimit-reset', String(Math.ceil(rate.resetMs / 1000)));
}

export function registerAccess(app: FastifyInstance, deps: AccessDeps): void {
  // One callback-style hook for who and how much: on the hot path (token lookup cached, tier without limits or
  // limits in memory) no promise is made at all. Authentication runs after the body is read, which is capped
  // by bodyLimit either way.
  app.addHook('preHandler', (request: AccessRequest, reply, done) => {
    const scope = scopeFor(request.method, request.url.split('?')[0]!);
    if (!scope) return done();
    request.scope = scope;
    let who: Principal | Promise<Principal>;
    try {
      who = deps.guard.authenticateNow(request.headers.authorization, scope);
    } catch (e) {
      return done(e as Error);
    }
    if (who instanceof Promise) who.then((p) => admit(deps, request, reply, p, done), done);
    else admit(deps, request, reply, who, done);
  });
}

const NO_LIMITS = (t: Tier) =>
  t.requestsPerMinute === undefined && t.concurrent === undefined && t.tokensPerMinute === undefined && t.charactersPerMinute === undefined && t.monthlyBudgetUsd === undefined;

function admit(deps: AccessDeps, request: AccessRequest, reply: FastifyReply, principal: Principal, done: (e?: Error) => void) {
  request.principal = principal;
  if (request.scope !== 'inference') return done();
  const body = request.body as Buffer | undefined;
  // Characters are known before the call (the body's size); tokens are estimated (4 characters each) and
  // settled with what the model or provider reports.
  const tier = principal.tier;
  const kind = unitLimit(tier)?.kind;
  const characters = body?.length ?? 0;
  const units = kind === 'tokens' ? Math.ceil(characters / 4) : characters;
  const admitted = (admission: Admission) => {
    rateHeaders(reply, admission.rate);
    // 'close' fires for every answer, streamed (hijacked) ones included, and when the caller leaves.
    reply.raw.once('close', () => {
      const used = request.callUsage;
      const reported = (used?.inputTokens ?? 0) + (used?.outputTokens ?? 0);
      const actualUnits = kind === 'tokens' && reported > 0 ? reported : units;
      if (admission !== NOTHING_TO_SETTLE) void admission.settle({ units: actualUnits, costUsd: used?.costUsd ?? 0 }).catch(() => undefined);
      recordCall(deps, request, reply.raw.statusCode, principal, characters);
    });
    done();
  };
  // A tier without limits has nothing to take or settle.
  if (NO_LIMITS(tier)) return admitted(NOTHING_TO_SETTLE);
  const costUsd = tier.monthlyBudgetUsd !== undefined ? deps.expectedCost(request) : 0;
  deps.limiter.admit(principal.tokenId ?? 'anonymous', tier, { units, costUsd }).then(admitted, (e: unknown) => {
    if (e instanceof LimitExceededError) {
      rateHeaders(reply, e.rate);
      reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
      recordCall(deps, request, 429, principal, characters);
      return done(e);
    }
    // The limits cannot be checked (Redis unreachable): refuse rather than serve unmetered, and say so.
    request.log.error({ err: e }, 'rate limits unavailable');
    done(new ModelhostError('internal', 503, 'Rate limits cannot be checked right now (their store is unreachable); retry shortly.'));
  });
}

/** One usage record for a finished call (also used by dedicated endpoints, which check access themselves). */
export function recordCall(deps: AccessDeps, request: AccessRequest, status: number, principal: Pick<Principal, 'tokenId'>, characters: number) {
  const used = request.callUsage;
  const started = request.startedAt ?? performance.now();
  // The path is read only for calls refused before a handler said what they were.
  const path = used ? '' : request.url.split('?')[0]!;
  deps.recorder.record({
    at: new Date(),
    requestId: request.id,
    tokenId: principal.tokenId,
    model: used?.model ?? modelFromPath(path),
    provider: used?.provider ?? 'none',
    task: used?.task ?? path.split('/').slice(-1)[0] ?? '',
    status,
    latencyMs: performance.now() - started,
    computeMs: used?.computeMs ?? 0,
    inputTokens: used?.inputTokens ?? 0,
    outputTokens: used?.outputTokens ?? 0,
    outputs: used?.outputs ?? 0,
    characters,
    costUsd: used?.costUsd ?? 0,
  });
}

/** `/models/org/name...` → `org/name`: the model of a call refused before its handler ran. */
function modelFromPath(path: string): string {
  const m = /\/models\/([^/]+\/[^/]+)/.exec(path);
  return m?.[1] ?? '';
}
