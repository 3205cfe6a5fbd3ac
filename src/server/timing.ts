import type { FastifyRequest } from 'fastify';

/** Timing kept on a request: when it arrived and how long it waited on providers or the engine. */
export type TimedRequest = FastifyRequest & { startedAt?: number; upstreamMs?: number };

/** Time spent in modelhost itself: the request's time so far minus the time spent waiting upstream. */
export function overheadMs(request: FastifyRequest): number {
  const r = request as TimedRequest;
  return Math.max(0, performance.now() - (r.startedAt ?? performance.now()) - (r.upstreamMs ?? 0));
}
