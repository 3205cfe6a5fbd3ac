/**
 * An HTTP proxy between a puller and a Hub that misbehaves on demand: cuts a response after N body bytes,
 * flips one byte of a file, throttles all bodies to X bytes/s, or refuses connections. It records every
 * request (method, path, Range, status, body bytes sent), so tests can tell what was downloaded again.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Faults {
  /** Cut the connection after this many body bytes of responses whose path contains `path` (`times` responses; default 1). */
  cut?: { path: string; afterBytes: number; times?: number };
  /** Flip (xor 0xff) the body byte at `offset` of the file whose path contains `path` (offsets count from the file's start). */
  flip?: { path: string; offset: number };
  /** All response bodies together at most this many bytes per second. */
  throttleBytesPerSecond?: number;
  /** Destroy every new connection at once (as a host that is down would refuse it). */
  refuse?: boolean;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  /** Body bytes sent to the client. */
  bytes: number;
}

export interface FaultProxy {
  url: string;
  faults: Faults;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, faults: Faults = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  const requests: ProxiedRequest[] = [];
  const state = { faults, nextFree: 0 };
  const sockets = new Set<Socket>();
  let cuts = 0;

  /** Waits for the throttle's turn to send `n` bytes (one budget shared by every response). */
  async function throttle(n: number): Promise<void> {
    const rate = state.faults.throttleBytesPerSecond;
    if (!rate) return;
    const now = performance.now();
    const start = Math.max(now, state.nextFree);
    state.nextFree = start + (n / rate) * 1000;
    if (state.nextFree - now > 1) await sleep(state.nextFree - now);
  }

  const server = http.createServer((req, res) => {
    const record: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', status: 0, bytes: 0, ...(req.headers.range ? { range: req.headers.range } : {}) };
    requests.push(record);
    const headers = { ...req.headers, host: target.host };
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers }, async (upRes) => {
      record.status = upRes.statusCode ?? 0;
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      const { cut, flip } = state.faults;
      const cutting = cut && record.path.includes(cut.path) && cuts < (cut.times ?? 1);
      // Where this body starts in the file (a 206 names it), for flipping the right byte.
      const rangeStart = Number(/bytes (\d+)-/.exec(String(upRes.headers['content-range'] ?? ''))?.[1] ?? 0);
      try {
        for await (const data of upRes) {
          let chunk = Buffer.from(data as Buffer);
          if (flip && record.path.includes(flip.path)) {
            const at = flip.offset - (rangeStart + record.bytes);
            if (at >= 0 && at < chunk.length) chunk[at]! ^= 0xff;
          }
          if (cutting && record.bytes + chunk.length >= cut.afterBytes) {
            chunk = chunk.subarray(0, cut.afterBytes - record.bytes);
            cuts++;
            await throttle(chunk.length);
            record.bytes += chunk.length;
            res.write(chunk);
            await sleep(20);
            res.socket?.destroy();
            upRes.destroy();
            return;
          }
          for (let i = 0; i < chunk.length; i += 16 * 1024) {
            const slice = chunk.subarray(i, i + 16 * 1024);
            await throttle(slice.length);
            record.bytes += slice.length;
            // A client that went away (killed) never drains: stop sending, which also frees the upstream.
            if (res.destroyed) {
              upRes.destroy();
              return;
            }
            if (!res.write(slice) && !res.destroyed) {
              await new Promise<void>((resolve) => {
                const done = () => {
                  res.off('drain', done);
                  res.off('close', done);
                  resolve();
                };
                res.on('drain', done);
                res.on('close', done);
              });
            }
            if (res.destroyed) {
              upRes.destroy();
              return;
            }
          }
        }
        res.end();
      } catch {
        res.destroy();
      }
    });
    up.on('error', () => {
      record.status = 502;
      res.destroy();
    });
    req.pipe(up);
  });
  server.on('connection', (socket) => {
    if (state.faults.refuse) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get faults() {
      return state.faults;
    },
    set faults(f: Faults) {
      state.faults = f;
    },
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
