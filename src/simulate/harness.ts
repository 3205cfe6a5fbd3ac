/**
 * What every provider simulator shares: a Fastify app, the fault plan and its control routes
 * (`GET|PUT /__sim/plan`, `GET /__sim/stats`, `POST /__sim/reset`), request-level faults applied before the
 * provider's own handler runs, and counters tests read to check what the adapter really sent.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { drawLatency, parseFaultPlan, seededRandom, type FaultPlan, type FaultPlanInput } from './fault-plan.ts';

export interface SimStats {
  requests: number;
  /** Per "METHOD /route-pattern". */
  byRoute: Record<string, number>;
  /** Jobs or completions started (a retried POST that creates a second job counts twice). */
  creates: number;
  hung: number;
  /** Calls whose client went away before the answer was complete (a cancelled hedge, a caller that left). */
  abandoned: number;
  faults: Record<string, number>;
  /** The last request seen per route, for contract tests (headers lower-cased; authorization kept). */
  last: Record<string, { headers: Record<string, unknown>; body: unknown; query: unknown }>;
}

export type RequestFault = 'ok' | 'outage' | 'reset' | 'hang' | 'rate_limit' | 'error';

export class SimState {
  plan: FaultPlan;
  random: () => number;
  stats: SimStats = SimState.emptyStats();

  constructor(plan: FaultPlanInput = {}) {
    this.plan = parseFaultPlan(plan);
    this.random = seededRandom(this.plan.seed);
  }

  static emptyStats(): SimStats {
    return { requests: 0, byRoute: {}, creates: 0, hung: 0, abandoned: 0, faults: {}, last: {} };
  }

  setPlan(patch: FaultPlanInput, replace = false) {
    this.plan = parseFaultPlan(replace ? patch : { ...this.plan, ...patch });
    this.random = seededRandom(this.plan.seed);
  }

  chance(rate: number): boolean {
    return rate > 0 && this.random() < rate;
  }

  latency(): number {
    return drawLatency(this.plan, this.random);
  }

  count(fault: string) {
    this.stats.faults[fault] = (this.stats.faults[fault] ?? 0) + 1;
  }

  /** The request-level fault for one call, drawn in a fixed order so a seed gives the same sequence. */
  requestFault(): RequestFault {
    const p = this.plan;
    if (p.outage === '503') return 'outage';
    if (p.outage === 'reset') return 'reset';
    if (this.chance(p.hangRate)) return 'hang';
    if (this.chance(p.rateLimitRate)) return 'rate_limit';
    if (this.chance(p.errorRate)) return 'error';
    return 'ok';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Options each simulator passes to `applyRequestFault` to answer faults in its own API's shape. */
export interface FaultAnswers {
  /** Body for an HTTP error of this status (e.g. RFC 7807 for Replicate). */
  errorBody(status: number, message: string): unknown;
  errorContentType?: string;
  /** Extra headers on a 429 (e.g. Replicate's ratelimit-*). */
  rateLimitHeaders?(): Record<string, string>;
}

/**
 * Applies the plan's request-level fault. Returns true when the request was answered (or dropped, or left
 * hanging) and the provider's handler must not run.
 */
export function applyRequestFault(sim: SimState, request: FastifyRequest, reply: FastifyReply, answers: FaultAnswers): boolean {
  const fault = sim.requestFault();
  if (fault === 'ok') return false;
  sim.count(fault);
  const ct = answers.errorContentType ?? 'application/json';
  switch (fault) {
    case 'reset':
      request.raw.socket.destroy();
      return true;
    case 'hang':
      sim.stats.hung++;
      reply.hijack();
      return true;
    case 'outage':
      reply.code(503).type(ct).send(answers.errorBody(503, 'Service unavailable (simulated outage)'));
      return true;
    case 'rate_limit': {
      const retry = sim.plan.retryAfterSeconds;
      if (retry !== null) reply.header('retry-after', String(retry));
      for (const [k, v] of Object.entries(answers.rateLimitHeaders?.() ?? {})) reply.header(k, v);
      reply.code(429).type(ct).send(answers.errorBody(429, 'Request was throttled (simulated rate limit)'));
      return true;
    }
    case 'error':
      reply
        .code(sim.plan.errorStatus)
        .type(ct)
        .send(answers.errorBody(sim.plan.errorStatus, `Simulated failure (HTTP ${sim.plan.errorStatus})`));
      return true;
  }
}

export interface Simulator {
  app: FastifyInstance;
  sim: SimState;
  url: string;
  close(): Promise<void>;
}

/**
 * Builds a simulator app: control routes, request counting, JSON bodies parsed leniently (a simulator must
 * see what the adapter sent, even if it is wrong).
 */
export function createSimApp(plan: FaultPlanInput = {}): { app: FastifyInstance; sim: SimState } {
  const sim = new SimState(plan);
  const app = Fastify({ logger: false, bodyLimit: 50 * 1024 ** 2, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const ct = String(request.headers['content-type'] ?? '');
    if (ct.includes('json')) {
      try {
        return done(null, body.length ? JSON.parse(body.toString('utf8')) : undefined);
      } catch {
        return done(null, { __invalidJson: body.toString('utf8') });
      }
    }
    done(null, body);
  });
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/__sim/')) return;
    sim.stats.requests++;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) sim.stats.abandoned++;
    });
    const key = `${request.method} ${request.routeOptions.url ?? request.url}`;
    sim.stats.byRoute[key] = (sim.stats.byRoute[key] ?? 0) + 1;
  });
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/__sim/')) return;
    const key = `${request.method} ${request.routeOptions.url ?? request.url}`;
    sim.stats.last[key] = { headers: { ...request.headers }, body: request.body, query: request.query };
  });
  app.get('/__sim/plan', async () => sim.plan);
  app.put('/__sim/plan', async (request) => {
    sim.setPlan((request.body ?? {}) as FaultPlanInput, (request.query as { replace?: string }).replace === '1');
    return sim.plan;
  });
  app.get('/__sim/stats', async () => sim.stats);
  app.post('/__sim/reset', async () => {
    sim.stats = SimState.emptyStats();
    sim.random = seededRandom(sim.plan.seed);
    return { ok: true };
  });
  return { app, sim };
}

export async function listen(app: FastifyInstance, sim: SimState, port = 0, host = '127.0.0.1'): Promise<Simulator> {
  await app.listen({ port, host });
  const address = app.server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { app, sim, url: `http://${host}:${actual}`, close: () => app.close() };
}

/**
 * Timers for a simulator's job lifecycles: unref'd, so they never keep a process alive, and all cleared when
 * the app closes.
 */
export function simTimers(app: FastifyInstance): (ms: number, fn: () => void) => NodeJS.Timeout {
  const timers = new Set<NodeJS.Timeout>();
  app.addHook('onClose', async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });
  return (ms, fn) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    timers.add(timer);
    return timer;
  };
}
