/**
 * Sends calls through the router and answers what comes back: JSON, file bytes or a stream. Every answer
 * says which provider served it (`x-modelhost-provider`) and how long modelhost itself took
 * (`x-modelhost-overhead-ms`: the request's time minus the time spent waiting on providers).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ModelhostError, reviveError } from '../core/errors.ts';
import { CallAbort, UpstreamError, type CallSignal } from '../core/providers.ts';
import type { RouteOutcome, RouteRequest, Router } from '../router/router.ts';
import { noteUsage } from './access.ts';
import { openSse } from './sse.ts';
import { overheadMs } from './timing.ts';

export { overheadMs };

type Timed = FastifyRequest & { startedAt?: number; upstreamMs?: number; provider?: string };

/** Aborted when the caller disconnects before the answer is complete. */
export function callerSignal(reply: FastifyReply): CallSignal {
  const ctrl = new CallAbort();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ctrl.abort(new ModelhostError('internal', 499, 'client closed the request'));
  });
  return ctrl;
}

/** `model`, `model:provider` or `model:policy` (the Hugging Face router's suffixes). */
export function splitModelSuffix(model: string): { model: string; provider?: string; policy?: 'fastest' | 'cheapest' | 'preferred' } {
  const at = model.lastIndexOf(':');
  if (at <= 0) return { model };
  const suffix = model.slice(at + 1);
  const id = model.slice(0, at);
  if (suffix === 'fastest' || suffix === 'cheapest' || suffix === 'preferred') return { model: id, policy: suffix };
  return { model: id, provider: suffix };
}

export type StreamStyle = 'openai' | 'tgi';

function streamErrorEvent(style: StreamStyle, e: ModelhostError) {
  const code = e instanceof UpstreamError ? e.failure : e.code;
  if (style === 'tgi') return { error: e.message, error_type: code };
  return { error: { message: e.message, type: 'upstream_error', code } };
}

/** Runs a routed call and sends its answer. */
export async function sendRouted(router: Router, req: RouteRequest, request: FastifyRequest, reply: FastifyReply, style: StreamStyle) {
  const r = request as Timed;
  // Failed calls spent time upstream too: the overhead header stays true on errors.
  req.timing = { upstreamMs: 0 };
  let outcome: RouteOutcome;
  try {
    outcome = await router.execute(req);
  } finally {
    r.upstreamMs = req.timing.upstreamMs;
  }
  r.provider = outcome.provider;
  reply.header('x-modelhost-provider', outcome.provider);
  if (outcome.attempts.length > 1) reply.header('x-modelhost-attempts', String(outcome.attempts.length));
  const result = outcome.result;
  const note = (costUsd: number) =>
    noteUsage(request, {
      provider: outcome.provider,
      model: req.model,
      task: req.api === 'task' ? req.task : req.api,
      costUsd,
      computeMs: outcome.upstreamMs,
      inputTokens: result.usage?.inputTokens,
      outputTokens: result.usage?.outputTokens,
      outputs: result.usage?.outputs,
    });
  note(outcome.cost);
  if (result.kind === 'json') return reply.type('application/json; charset=utf-8').send(result.raw ?? result.body);
  if (result.kind === 'bytes') return reply.type(result.contentType).send(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength));

  const sse = openSse(request, reply, { 'x-modelhost-provider': outcome.provider });
  sse.send(result.first);
  try {
    for await (const event of result.rest) {
      if (sse.closed()) break;
      sse.send(event);
    }
    if (style === 'openai') sse.send('[DONE]');
    note((await outcome.settled).cost);
  } catch (e) {
    // Never a clean end for a broken stream: the caller gets an explicit error event and no [DONE].
    sse.send(streamErrorEvent(style, reviveError(e)));
  }
  sse.end();
}
