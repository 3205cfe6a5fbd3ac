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
import { hasNoLimits, unitLimit } from '../auth/tiers.ts';
import { LimitExceededError } from '../auth/limits.ts';
import { meterBody, type Metered } from '../auth/metering.ts';
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
const NOTHING_METERED: Metered = Object.freeze({ characters: 0, audioSeconds: 0, megapixels: 0 });

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

function admit(deps: AccessDeps, request: AccessRequest, reply: FastifyReply, principal: Principal, done: (e?: Error) => void) {
  request.principal = principal;
  if (request.scope !== 'inference') return done();
  const body = request.body as Buffer | undefined;
  const tier = principal.tier;
  // What the input weighs (text characters, audio seconds, image megapixels) is read from the body before the
  // call; a tier without limits needs it only for the usage record, after the answer.
  let metered: Metered | undefined;
  const weigh = () => (metered ??= meterBody(body, request.headers['content-type']));
  const kind = unitLimit(tier)?.kind;
  // Tokens are estimated before the call (4 characters each) and settled with what the model or provider reports.
  const units = () => (kind === 'tokens' ? Math.ceil(weigh().characters / 4) : weigh().characters);
  const admitted = (admission: Admission) => {
    rateHeaders(reply, admission.rate);
    // 'close' fires for every answer, streamed (hijacked) ones included, and when the caller leaves.
    // Nothing thrown here may escape: a listener's exception would take the whole process down.
    reply.raw.once('close', () => {
      try {
        settleAndRecord();
      } catch (e) {
        request.log.error({ err: e }, 'could not record the usage of a call');
      }
    });
    const settleAndRecord = () => {
      const used = request.callUsage;
      const reported = (used?.inputTokens ?? 0) + (used?.outputTokens ?? 0);
      if (admission !== NOTHING_TO_SETTLE) {
        const actualUnits = kind === 'tokens' && reported > 0 ? reported : units();
        void admission.settle({ units: actualUnits, costUsd: used?.costUsd ?? 0 }).catch(() => undefined);
      }
      recordCall(deps, request, reply.raw.statusCode, principal, weigh());
    };
    done();
  };
  // A tier without limits has nothing to take or settle.
  if (hasNoLimits(tier)) return admitted(NOTHING_TO_SETTLE);
  const costUsd = tier.monthlyBudgetUsd !== undefined ? deps.expectedCost(request) : 0;
  const m = weigh();
  // Callers without a token are told apart by address: one caller must not use up every anonymous caller's limits.
  const subject = principal.tokenId ?? `anonymous:${request.ip}`;
  let admission: Promise<Admission>;
  try {
    admission = deps.limiter.admit(subject, tier, { units: units(), costUsd, audioSeconds: m.audioSeconds, megapixels: m.megapixels });
  } catch (e) {
    admission = Promise.reject(e);
  }
  admission.then(admitted, (e: unknown) => {
    // A refused call is recorded (as an error) but took no input: usage counts what was served.
    if (e instanceof LimitExceededError) {
      rateHeaders(reply, e.rate);
      reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
      recordCall(deps, request, 429, principal, NOTHING_METERED);
      return done(e);
    }
    if (e instanceof ModelhostError && e.status === 413) {
      recordCall(deps, request, 413, principal, NOTHING_METERED);
      return done(e);
    }
    // The limits cannot be checked (Redis unreachable): refuse rather than serve unmetered, and say so.
    request.log.error({ err: e }, 'rate limits unavailable');
    done(new ModelhostError('internal', 503, 'Rate limits cannot be checked right now (their store is unreachable); retry shortly.'));
  });
}

/** One usage record for a finished call (also used by dedicated endpoints, which check access themselves). */
export function recordCall(deps: AccessDeps, request: AccessRequest, status: number, principal: Pick<Principal, 'tokenId'>, input: Metered) {
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
    characters: input.characters,
    audioSeconds: input.audioSeconds,
    megapixels: input.megapixels,
    costUsd: used?.costUsd ?? 0,
  });
}

/** `/models/org/name...` → `org/name`: the model of a call refused before its handler ran. */
function modelFromPath(path: string): string {
  const m = /\/models\/([^/]+\/[^/]+)/.exec(path);
  return m?.[1] ?? '';
}
