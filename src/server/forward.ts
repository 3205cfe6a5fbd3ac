/**
 * Forwards a call as it came to another process of this server (in a cluster, dedicated endpoints live in one
 * worker: the others send their calls there) and streams the answer back unchanged, event streams included.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, type Dispatcher } from 'undici';
import { ModelhostError } from '../core/errors.ts';
import { endToEnd } from './headers.ts';


// No deadlines of its own: the process it forwards to holds and times out calls itself (a wake from zero can
// take as long as --max-wait-for-model).
const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });

export async function forwardCall(base: string | undefined, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!base) {
    reply.header('retry-after', '2');
    throw new ModelhostError('endpoint_unavailable', 503, 'Dedicated endpoints are starting in another process of this server; retry in a few seconds.');
  }
  const ctrl = new AbortController();
  reply.raw.once('close', () => reply.raw.writableFinished || ctrl.abort());
  const body = request.body as Buffer | undefined;
  let res: Dispatcher.ResponseData;
  try {
    res = await agent.request({
      origin: base,
      path: request.url,
      method: request.method as Dispatcher.HttpMethod,
      headers: { ...endToEnd(request.headers), 'x-request-id': request.id },
      body: body && body.length > 0 ? body : undefined,
      signal: ctrl.signal,
    });
  } catch (e) {
    reply.header('retry-after', '2');
    throw new ModelhostError('endpoint_unavailable', 503, `Dedicated endpoints cannot be reached in the process that manages them (${(e as Error).message}); retry shortly.`);
  }
  reply.code(res.statusCode);
  reply.headers(endToEnd(res.headers as Record<string, string | string[] | undefined>));
  return reply.send(res.body);
}
