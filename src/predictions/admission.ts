/**
 * Tiers at submission: a prediction takes its caller's rate, unit, concurrency and budget allowances when it
 * is created (so a limited caller gets 429 then, not a failed job later) and settles them when it ends. The
 * same limiter and metering as the HF routes' access hook (src/server/access.ts).
 */
import type { Limiter } from '../auth/limits.ts';
import { meterBody } from '../auth/metering.ts';
import { hasNoLimits, unitLimit } from '../auth/tiers.ts';
import type { Admission, Admit } from './service.ts';

const NOTHING: Admission = { settle: async () => undefined };

export function tierAdmit(limiter: Limiter, expectedCost: (model: string, body: Buffer) => number): Admit {
  return async (caller, model, payload) => {
    const principal = caller.principal;
    if (!principal || hasNoLimits(principal.tier)) return NOTHING;
    const tier = principal.tier;
    const body = Buffer.from(JSON.stringify({ inputs: payload.inputs, parameters: payload.parameters }));
    const m = meterBody(body, 'application/json');
    const units = unitLimit(tier)?.kind === 'tokens' ? Math.ceil(m.characters / 4) : m.characters;
    const costUsd = tier.monthlyBudgetUsd !== undefined ? expectedCost(model, body) : 0;
    const subject = principal.tokenId ?? `anonymous:${caller.owner}`;
    return limiter.admit(subject, tier, { units, costUsd, audioSeconds: m.audioSeconds, megapixels: m.megapixels });
  };
}
