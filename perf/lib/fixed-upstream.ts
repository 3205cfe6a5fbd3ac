/**
 * A fixed-latency OpenAI-compatible upstream for the gateway bench: `POST /v1/chat/completions` answers one small,
 * fixed `chat.completion` JSON after `--upstream-ms` (default 0: at once). The request body is read in full (so
 * keep-alive connections stay usable) but not parsed: the upstream's own cost stays small and the same for every
 * caller. `GET /stats` says how many completions it served. Run as its own process:
 *
 *   node --import tsx bench/lib/fixed-upstream.ts [--port 0] [--upstream-ms 0]
 *
 * It listens on 127.0.0.1 only and prints `{"listening": "http://127.0.0.1:<port>"}` when ready.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { isMain, startChild, type ChildServer } from './child.ts';

/** The answer, byte for byte the same on every call. */
export const FIXED_COMPLETION = {
  id: 'chatcmpl-bench-0001',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'bench-upstream-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! This is a fixed answer from the bench upstream.' }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 24, completion_tokens: 12, total_tokens: 36 },
};

export interface FixedUpstreamOptions {
  port?: number;
  /** Delay before each answer, ms (0: answer as soon as the request body is in). */
  delayMs?: number;
}

export function createFixedUpstream(opts: FixedUpstreamOptions = {}): { server: http.Server; served: () => number } {
  const delayMs = opts.delayMs ?? 0;
  const body = Buffer.from(JSON.stringify(FIXED_COMPLETION));
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  let served = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      req.resume();
      req.once('end', () => {
        served++;
        const answer = () => {
          res.writeHead(200, headers);
          res.end(body);
        };
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      });
      return;
    }
    req.resume();
    const text = req.url === '/stats' ? JSON.stringify({ served }) : req.url === '/health' ? '{"status":"ok"}' : '{"error":{"message":"not found"}}';
    res.writeHead(req.url === '/stats' || req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(text);
  });
  // Callers keep their connections for the whole bench; Node's default (5 s) would close idle ones between phases.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  return { server, served: () => served };
}

/** Starts the upstream in its own process. */
export function startFixedUpstream(delayMs: number): Promise<ChildServer> {
  return startChild(fileURLToPath(import.meta.url), ['--upstream-ms', String(delayMs)]);
}

function nonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0');
  return n;
}

if (isMain(import.meta.url)) {
  const opts = new Command()
    .name(path.basename(fileURLToPath(import.meta.url)))
    .description('Fixed-latency OpenAI-compatible upstream on 127.0.0.1 (bench helper).')
    .option('--port <n>', 'port (0: any free one)', nonNegative, 0)
    .option('--upstream-ms <ms>', 'delay before each answer', nonNegative, 0)
    .parse()
    .opts<{ port: number; upstreamMs: number }>();
  const { server } = createFixedUpstream({ delayMs: opts.upstreamMs });
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${port}` })}\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close(() => process.exit(0)).closeAllConnections());
}
