/**
 * Forwarding a call to a custom server replica and its answer back: the least busy ready replica gets it (counted
 * while it runs, so drains and scaling see it); a replica that refuses the connection or dies before answering
 * (nothing reached the caller yet) is left for another, once. The answer streams back as it comes, event streams
 * included; a replica that dies in the middle of an event stream ends it with an error event, and a caller that
 * goes away cancels the upstream request.
 *
 * The caller's `Authorization` (a modelhost token) never reaches the server, nor do hop-by-hop headers.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { createParser } from 'eventsource-parser';
import { Agent, type Dispatcher } from 'undici';
import { ModelhostError } from '../../core/errors.ts';
import type { Deployment } from '../deployment.ts';
import type { ApiKindRules, TokenCounts } from './api-kinds.ts';
import { ServerReplica } from './server-replica.ts';

/** No deadline of its own: a generation may take minutes; the caller going away is what cancels it. */
const agent = new Agent({ headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 10_000 });

const NOT_FORWARDED = new Set(['authorization', 'host', 'connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'x-scale-up-timeout', 'x-wait-for-model']);
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade', 'proxy-connection']);
/** Largest JSON answer read for its token counts (bigger ones pass through unread). */
const USAGE_SCAN_BYTES = 1024 * 1024;

export interface CustomCall {
  method: string;
  /** Path and query as the server sees them (`/v1/chat/completions?x=1`). */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer | undefined;
  /** How long to hold the call for a replica (waking, replacing a crashed one). */
  waitMs: number;
  signal: AbortSignal;
}

export interface Upstream {
  response: Dispatcher.ResponseData;
  replica: ServerReplica;
  /** Call when the answer is over (the replica's in-flight count goes down). */
  done: () => void;
}

function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value;
  return out;
}

function leastBusy(d: Deployment, tried: Set<ServerReplica>): ServerReplica | undefined {
  let best: ServerReplica | undefined;
  for (const r of d.replicas) if (r instanceof ServerReplica && r.state === 'ready' && !tried.has(r) && (!best || r.inflight < best.inflight)) best = r;
  return best;
}

/**
 * A replica that refused a connection has usually just died, and its exit is seen a moment later: waiting for that
 * (briefly) lets the next attempt wait for its replacement instead of picking it again.
 */
async function settle(replica: ServerReplica): Promise<void> {
  const deadline = performance.now() + 1000;
  while (replica.state === 'ready' && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Sends the call to a ready replica and resolves once its answer's headers arrived. Throws before anything is sent. */
export async function openUpstream(d: Deployment, call: CustomCall): Promise<Upstream> {
  let lastError = '';
  const tried = new Set<ServerReplica>();
  for (let attempt = 0; attempt < 2; attempt++) {
    // Wakes or waits as the endpoint's policy says (503 with estimated_time when it may not wait).
    await d.ensureReady(undefined as never, call.waitMs);
    const replica = leastBusy(d, tried);
    if (!replica) break;
    tried.add(replica);
    const done = replica.begin();
    try {
      const response = await agent.request({
        origin: replica.url,
        path: call.path,
        method: call.method as Dispatcher.HttpMethod,
        headers: forwardedHeaders(call.headers),
        body: call.body && call.body.length > 0 ? call.body : undefined,
        signal: call.signal,
      });
      return { response, replica, done };
    } catch (e) {
      done();
      if (call.signal.aborted) throw new ModelhostError('upstream_failed', 499, 'The caller went away');
      lastError = `${replica.id}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      await settle(replica);
    }
  }
  throw new ModelhostError('endpoint_unavailable', 503, `Endpoint ${d.name}: no replica answered (${lastError || 'none ready'}); retry shortly`, {
    estimated_time: Math.round(d.estimatedSeconds() * 10) / 10,
  });
}

/**
 * Writes the upstream answer to `res` (status, headers plus `extra`, body as it streams), reading token counts on
 * the way. Resolves when the answer is over, whichever way it ended.
 */
export async function pipeAnswer(up: Upstream, res: ServerResponse, extra: Record<string, string | number | string[] | undefined>, rules: ApiKindRules, onTokens: (t: TokenCounts) => void): Promise<void> {
  const { response } = up;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && !NOT_RETURNED.has(name)) headers[name] = value;
  for (const [name, value] of Object.entries(extra)) if (value !== undefined) headers[name] = value;
  const contentType = String(response.headers['content-type'] ?? '');
  const isStream = contentType.includes('text/event-stream');
  res.writeHead(response.statusCode, headers);
  const parser = isStream
    ? createParser({
        onEvent: (event) => {
          if (!event.data.includes('token')) return; // cheap skip: counts live in usage/details events only
          try {
            const t = rules.tokens(JSON.parse(event.data));
            if (t) onTokens(t);
          } catch {
            /* not JSON ([DONE], text): nothing to count */
          }
        },
      })
    : undefined;
  const scanned: Buffer[] = [];
  let scannedBytes = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (parser) parser.feed(chunk.toString('utf8'));
      else if (scannedBytes < USAGE_SCAN_BYTES && contentType.includes('json')) {
        scanned.push(chunk);
        scannedBytes += chunk.length;
      }
      if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
      if (res.destroyed) break;
    }
    if (!parser && scanned.length > 0 && scannedBytes < USAGE_SCAN_BYTES) {
      try {
        const t = rules.tokens(JSON.parse(Buffer.concat(scanned).toString('utf8')));
        if (t) onTokens(t);
      } catch {
        /* not JSON after all */
      }
    }
    res.end();
  } catch (e) {
    if (res.destroyed) return; // the caller went away: the upstream request was cancelled with it
    if (isStream) {
      // The stream's headers went out long ago: the error travels as an event clients recognise (`data.error`).
      const why = `the replica ${up.replica.id} serving this stream stopped (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
      res.end(`data: ${JSON.stringify({ error: { message: `Endpoint stream interrupted: ${why}`, type: 'server_error', code: 'replica_lost' } })}\n\n`);
    } else {
      res.destroy(); // a partial JSON body must not pass for a whole one
    }
  } finally {
    up.done();
    response.body.destroy();
  }
}
