/**
 * The cost to reserve against a budget before a call runs: the dearest of the providers that may serve it, at
 * the call's own size (its max_tokens, image size), so that what is reserved covers what will be spent.
 */
import type { FastifyRequest } from 'fastify';
import type { ModelRepository } from '../engine/repository.ts';
import { costOf, expectedUsage } from '../router/cost.ts';
import type { Router } from '../router/router.ts';
import { splitModelSuffix } from './routed.ts';

function modelOf(request: FastifyRequest, body: Record<string, unknown>): string | undefined {
  const path = request.url.split('?')[0]!;
  const fromPath = /\/models\/([^/]+\/[^/]+)/.exec(path)?.[1];
  if (fromPath) return fromPath;
  return typeof body.model === 'string' ? splitModelSuffix(body.model).model : undefined;
}

/** Whether any provider has a price at all: without one there is nothing to reserve and no body to read. */
function anyPrice(router: Router): boolean {
  const cached = priced.get(router);
  if (cached !== undefined) return cached;
  const value = router.file.routing.localPricePerSecond > 0 || router.file.models.some((m) => m.providers.some((p) => Object.values(p.price).some((v) => (v ?? 0) > 0)));
  priced.set(router, value);
  return value;
}
const priced = new WeakMap<Router, boolean>();

export function expectedCost(router: Router, repository: ModelRepository, request: FastifyRequest): number {
  if (!anyPrice(router)) return 0;
  const raw = request.body as Buffer | undefined;
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = raw && raw.length && raw[0] === 0x7b ? JSON.parse(raw.toString('utf8')) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // The handler answers the bad body; nothing to reserve for a call that will not run.
  }
  const model = modelOf(request, body);
  if (!model) return 0;
  const entry = router.modelEntry(model);
  const local = router.file.routing.localPricePerSecond;
  if (!entry) return repository.get(model) ? local : 0;
  const call = { api: 'task' as const, task: entry.task, body };
  return Math.max(0, ...entry.providers.map((p) => (p.provider === 'local' ? local : costOf(p.price, expectedUsage(call, 1)))));
}
