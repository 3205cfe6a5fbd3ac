/**
 * Admin API (scope `admin`): tokens (create, list, revoke), usage aggregated by token, model, provider and day,
 * and the tiers in force. A created token's value is in the creation answer only.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ModelhostError } from '../../core/errors.ts';
import { validate } from '../../core/tasks/index.ts';
import type { TokenRow, UsageGroup } from '../../store/types.ts';
import { SCOPES } from '../../store/types.ts';
import { parseJsonObject } from '../body.ts';
import type { ServerDeps } from '../deps.ts';

const createBody = z.object({
  name: z.string().min(1).max(100),
  owner: z.string().min(1).max(100).optional(),
  scopes: z.array(z.enum(SCOPES as [string, ...string[]])).min(1).optional(),
  tier: z.string().optional(),
  expiresInDays: z.number().positive().max(3650).optional(),
  expiresAt: z.iso.datetime().optional(),
});

const usageQuery = z.object({
  by: z
    .string()
    .regex(/^(token|model|provider|day)(,(token|model|provider|day))*$/, 'a comma-separated list of token, model, provider, day')
    .default('day'),
  from: z.iso.date().or(z.iso.datetime()).optional(),
  to: z.iso.date().or(z.iso.datetime()).optional(),
  token: z.string().optional(),
});

/** A token as listed: never its hash. */
export function publicToken(t: TokenRow) {
  return {
    id: t.id,
    name: t.name,
    owner: t.owner,
    scopes: t.scopes,
    tier: t.tier,
    prefix: t.prefix,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

export function adminRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const access = deps.access;
    if (!access) return;
    app.post('/api/tokens', async (request, reply) => {
      const body = validate(createBody, parseJsonObject(request.body as Buffer | undefined), 'body');
      if (body.tier && !access.guard.hasTier(body.tier)) {
        throw new ModelhostError('bad_input', 400, `body.tier: no tier "${body.tier}" (tiers: ${access.guard.tierNames().join(', ')})`);
      }
      const expiresAt = body.expiresAt ? new Date(body.expiresAt) : body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null;
      const { token, row } = await access.tokens.create({ ...body, scopes: body.scopes as TokenRow['scopes'] | undefined, expiresAt });
      return reply.code(201).send({ ...publicToken(row), token, note: 'Store this token now: it is not shown again.' });
    });
    app.get('/api/tokens', async () => ({ tokens: (await access.tokens.list()).map(publicToken) }));
    app.delete<{ Params: { id: string } }>('/api/tokens/:id', async (request, reply) => {
      if (!(await access.tokens.revoke(request.params.id))) {
        throw new ModelhostError('bad_input', 404, `No active token with id ${request.params.id}`);
      }
      return reply.code(204).send();
    });
    app.get('/api/usage', async (request) => {
      const q = validate(usageQuery, request.query, 'query');
      await access.recorder.flush();
      const rows = await access.usage.aggregate({
        by: q.by.split(',') as UsageGroup[],
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        tokenId: q.token,
      });
      return { by: q.by.split(','), rows };
    });
    app.get('/api/tiers', async () => ({ tiers: access.guard.tierNames().map((n) => access.guard.tier(n)) }));
  };
}
