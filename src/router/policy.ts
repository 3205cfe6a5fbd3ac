/**
 * Orders the providers that may serve a call: the preferred order from the providers file, the fastest by
 * measured median latency, or the cheapest by the price table. A provider without measurements yet is
 * tried first by "fastest" (that is how it gets measured).
 */
import type { ProviderCall } from '../core/providers.ts';
import type { PolicyName, Price } from './config.ts';
import { costOf, expectedUsage } from './cost.ts';
import type { ProviderStats } from './stats.ts';

export interface Candidate {
  provider: string;
  providerModel: string;
  price: Price;
}

export function orderCandidates(
  policy: PolicyName,
  candidates: Candidate[],
  call: Pick<ProviderCall, 'api' | 'task' | 'body' | 'model'>,
  stats: ProviderStats,
): Candidate[] {
  if (policy === 'preferred') return candidates;
  const median = (c: Candidate) => stats.snapshot(c.provider, call.model).p50Ms ?? stats.snapshot(c.provider).p50Ms;
  if (policy === 'fastest') {
    const key = (c: Candidate) => median(c) ?? -1;
    return [...candidates].sort((a, b) => key(a) - key(b));
  }
  const estimate = (c: Candidate) => costOf(c.price, expectedUsage(call, (median(c) ?? 1000) / 1000));
  return [...candidates].sort((a, b) => estimate(a) - estimate(b));
}
