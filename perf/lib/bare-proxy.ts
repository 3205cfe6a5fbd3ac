/**
 * The floor of the gateway bench: a bare forwarding proxy with node:http and an undici Pool, i.e. what any Node
 * gateway pays before doing anything of its own. Per request it reads the (small) body into one buffer, sends it
 * to the same path on the upstream with the end-to-end headers, and pipes the upstream's status, headers and body
 * back (`readable.pipe`). No routing, no parsing, no hooks, no logging, no statistics. Run as its own process:
 *
 *   node --import tsx bench/lib/bare-proxy.ts --upstream http://127.0.0.1:<port> [--port 0]
 *
 * It listens on 127.0.0.1 only and prints `{"listening": "http://127.0.0.1:<port>"}` when ready.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { Pool } from 'undici';
import { endToEnd } from '../../src/server/headers.ts';
import { isMain, startChild, type ChildServer } from './child.ts';


export function createBareProxy(upstream: string): { server: http.Server; pool: Pool } {
  // As many connections as modelhost's per-provider undici Agent allows (512), kept alive as long as its (30 s).
  const pool = new Pool(upstream, { connections: 512, keepAliveTimeout: 30_000 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      pool
        .request({
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as 'GET',
          headers: endToEnd(req.headers),
          body: chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        })
        .then(
          (up) => {
            res.writeHead(up.statusCode, endToEnd(up.headers as Record<string, string | string[] | undefined>));
            // Plain pipe(): stream.pipeline() makes an AbortController and a DOMException per call, which is not the floor.
            up.body.once('error', () => res.destroy());
            res.once('close', () => res.writableFinished || up.body.destroy());
            up.body.pipe(res);
          },
          (e: Error) => {
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { message: `bare proxy: ${e.message}` } }));
          },
        );
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  return { server, pool };
}

/** Starts the bare proxy in its own process. */
export function startBareProxy(upstream: string): Promise<ChildServer> {
  return startChild(fileURLToPath(import.meta.url), ['--upstream', upstream]);
}

if (isMain(import.meta.url)) {
  const opts = new Command()
    .name('bare-proxy.ts')
    .description('Bare node:http + undici forwarding proxy on 127.0.0.1 (gateway bench floor).')
    .requiredOption('--upstream <url>', 'origin to forward to, e.g. http://127.0.0.1:9000')
    .option(
      '--port <n>',
      'port (0: any free one)',
      (v: string) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a port number');
        return n;
      },
      0,
    )
    .parse()
    .opts<{ upstream: string; port: number }>();
  const upstream = new URL(opts.upstream);
  if (upstream.hostname !== '127.0.0.1' && upstream.hostname !== 'localhost' && upstream.hostname !== '[::1]') {
    throw new Error('the bare proxy only forwards to loopback');
  }
  const { server, pool } = createBareProxy(upstream.origin);
  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${port}` })}\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close(() => void pool.close().finally(() => process.exit(0)));
      server.closeAllConnections();
    });
  }
}
