import type { FastifyReply, FastifyRequest } from 'fastify';
import { exposedHeaders } from './app.ts';
import { overheadMs } from './timing.ts';

export interface SseStream {
  send(data: unknown): void;
  /** A named event with an id (`event:`, `id:`, one `data:` line per line of `data`), as Replicate's streams send. */
  event(name: string, data: string, id: string): void;
  end(): void;
  closed(): boolean;
}

/** Takes the response over for server-sent events; the usual hooks no longer run, so headers are set here. */
export function openSse(request: FastifyRequest, reply: FastifyReply, headers: Record<string, string> = {}): SseStream {
  const provider = reply.getHeader('x-modelhost-provider');
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
    'x-compute-type': 'cpu',
    'access-control-allow-origin': '*',
    'access-control-expose-headers': exposedHeaders.join(', '),
    ...(typeof provider === 'string' ? { 'x-modelhost-provider': provider } : {}),
    'x-modelhost-overhead-ms': overheadMs(request).toFixed(3),
    ...headers,
  });
  let closed = false;
  res.on('close', () => (closed = true));
  return {
    send(data) {
      if (!closed) res.write(`data:${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    event(name, data, id) {
      if (!closed) res.write(`event: ${name}\nid: ${id}\n${data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`);
    },
    end() {
      if (!closed) res.end();
      closed = true;
    },
    closed: () => closed,
  };
}
