/** A webhook receiver on a loopback port: records every delivery; can answer errors, or not listen at all yet. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Status answered to every delivery (200 by default). */
  status: number;
  listen(): Promise<void>;
  close(): Promise<void>;
}

/** A port nothing listens on yet (taken and released), where `listen()` starts the receiver later. */
export async function receiver(opts: { listening?: boolean } = {}): Promise<Receiver> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const deliveries: Delivery[] = [];
  let server: http.Server | undefined;
  const r: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    status: 200,
    async listen() {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
          deliveries.push({ headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
          res.writeHead(r.status).end();
        });
      });
      await new Promise<void>((ok) => server!.listen(port, '127.0.0.1', ok));
    },
    async close() {
      server?.closeAllConnections();
      await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    },
  };
  if (opts.listening !== false) await r.listen();
  return r;
}

/** Polls until `check` holds (or fails the test after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A delivery as the Request a receiver's framework would hand to `validateWebhook`. */
export function asRequest(headers: Record<string, string>, body: string): Request {
  return new Request('http://receiver.test/hook', { method: 'POST', headers, body });
}
