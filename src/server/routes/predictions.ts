/**
 * Replicate's predictions API (README: Predictions and webhooks): create (three routes), get, list, cancel,
 * the token stream, the webhook signing secret and output files. Routes only translate HTTP; the work is in
 * src/predictions. Callers are authenticated here rather than by the access hook (src/auth/guard.ts scopeFor):
 * polling a prediction is not an inference call, and the tier is applied once, at submission.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LimitExceededError } from '../../auth/limits.ts';
import { parseJsonObject } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { openSse } from '../sse.ts';
import { isTerminal, toApi, type Caller, type PredictionRow, type Predictions } from '../../predictions/index.ts';

const MAX_WAIT_SECONDS = 60;
const PAGE_SIZE = 100;

/** `Prefer: wait` (60 s) or `Prefer: wait=N`; undefined when the caller does not want to wait. */
function preferWait(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  const m = /(?:^|[,;\s])wait(?:=(\d+))?(?:$|[,;\s])/i.exec(value);
  if (!m) return undefined;
  return Math.min(MAX_WAIT_SECONDS, Math.max(1, m[1] ? Number(m[1]) : MAX_WAIT_SECONDS));
}

export function predictionRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const p = deps.predictions;
    if (!p) return;

    async function caller(request: FastifyRequest): Promise<Caller> {
      const access = deps.access;
      if (!access || access.off) return { tokenId: null, owner: 'admin' };
      const principal = await access.guard.authenticate(request.headers.authorization, 'inference');
      return { tokenId: principal.tokenId, owner: principal.owner, principal };
    }

    async function view(row: PredictionRow, withDeliveries: boolean) {
      const api = toApi(row, p!.publicUrl(), withDeliveries && row.webhook ? await p!.service.attempts(row.id) : undefined);
      if (api.urls.stream) api.urls.stream += `?signature=${await p!.files.streamSignature(row.id)}`;
      return api;
    }

    async function create(request: FastifyRequest, reply: FastifyReply, target: { model?: string; deployment?: { owner: string; name: string } }) {
      const who = await caller(request);
      const body = parseJsonObject(request.body as Buffer | undefined);
      let row: PredictionRow;
      try {
        row = await p!.service.create({ caller: who, body, ...target });
      } catch (e) {
        // A limited caller is told when to come back, as on the HF routes.
        if (e instanceof LimitExceededError) reply.header('retry-after', String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))));
        throw e;
      }
      const wait = preferWait(request.headers.prefer);
      if (wait !== undefined) {
        row = await p!.service.wait(row, wait * 1000);
        reply.header('preference-applied', `wait=${wait}`);
      }
      if (!isTerminal(row.status)) reply.header('location', `${p!.publicUrl()}/v1/predictions/${row.id}`);
      return reply.code(201).send(await view(row, false));
    }

    app.post('/v1/predictions', (request, reply) => create(request, reply, {}));
    app.post<{ Params: { owner: string; name: string } }>('/v1/models/:owner/:name/predictions', (request, reply) =>
      create(request, reply, { model: `${request.params.owner}/${request.params.name}` }),
    );
    app.post<{ Params: { owner: string; name: string } }>('/v1/deployments/:owner/:name/predictions', (request, reply) =>
      create(request, reply, { deployment: { owner: request.params.owner, name: request.params.name } }),
    );

    app.get<{ Querystring: { cursor?: string } }>('/v1/predictions', async (request) => {
      const who = await caller(request);
      const page = await p.service.list(who, PAGE_SIZE, request.query.cursor);
      return {
        previous: null,
        next: page.next ? `${p.publicUrl()}/v1/predictions?cursor=${encodeURIComponent(page.next)}` : null,
        results: await Promise.all(page.rows.map((r) => view(r, false))),
      };
    });

    app.get<{ Params: { id: string } }>('/v1/predictions/:id', async (request) => view(await p.service.get(request.params.id, await caller(request)), true));

    app.post<{ Params: { id: string } }>('/v1/predictions/:id/cancel', async (request) =>
      view(await p.service.cancel(request.params.id, await caller(request)), true),
    );

    app.get<{ Params: { id: string }; Querystring: { signature?: string } }>('/v1/predictions/:id/stream', async (request, reply) => {
      const { id } = request.params;
      if (!(await p.files.checkStream(id, request.query.signature))) {
        return reply.code(404).type('application/problem+json').send({ title: 'Not found', detail: 'No such stream (the URL is incomplete or wrong).', status: 404 });
      }
      streamEvents(p, id, request, reply);
    });

    app.get('/v1/webhooks/default/secret', async (request) => {
      const who = await caller(request);
      return { key: await p.webhooks.secretFor(p.service.ownerOf(who)) };
    });

    app.get<{ Params: { id: string }; Querystring: { expires?: string; signature?: string; format?: string } }>('/v1/files/:id', async (request, reply) => {
      const found = await p.files.get(request.params.id, request.query.expires, request.query.signature);
      if (!found.ok) return reply.code(found.status).type('application/problem+json').send({ title: found.status === 410 ? 'Gone' : 'Not found', detail: found.reason, status: found.status });
      // `?format=data-uri`: the same file as a data: URI (text), for callers that keep outputs inline.
      if (request.query.format === 'data-uri') return reply.type('text/plain').send(`data:${found.contentType};base64,${Buffer.from(found.bytes).toString('base64')}`);
      return reply.type(found.contentType).header('cache-control', 'private, max-age=60').send(Buffer.from(found.bytes));
    });
  };
}

/** Replicate's stream: `output` events (one per token), then `error` if it failed, then `done`. */
function streamEvents(p: Predictions, id: string, request: FastifyRequest, reply: FastifyReply) {
  const sse = openSse(request, reply);
  let seq = 0;
  const send = (event: string, data: string) => sse.event(event, data, `${Math.floor(Date.now() / 1000)}:${seq++}`);
  const finish = (row: PredictionRow | undefined) => {
    if (row?.status === 'failed') send('error', JSON.stringify({ detail: row.error ?? 'the prediction failed' }));
    send('done', row?.status === 'canceled' ? JSON.stringify({ reason: 'canceled' }) : '{}');
    sse.end();
  };
  reply.raw.on('close', () => stop());
  let stop = () => undefined as void;
  // Running here: tokens as they come. Elsewhere (or done): what the database has, re-read until it ends.
  const here = p.workers.follow(
    id,
    (t) => send('output', t),
    () => void p.service.peek(id).then(finish, () => finish(undefined)),
  );
  if (here) {
    stop = here.stop;
    for (const t of here.sofar) send('output', t);
    return;
  }
  void (async () => {
    let sent = 0;
    while (!sse.closed()) {
      const row = await p.service.peek(id).catch(() => undefined);
      const tokens = Array.isArray(row?.output) ? (row.output as unknown[]) : [];
      for (; sent < tokens.length; sent++) send('output', String(tokens[sent]));
      if (!row || isTerminal(row.status)) return finish(row);
      await p.workers.ended(id, 250);
    }
  })();
}
