/**
 * One ranged GET for a part of a large download, its body handed to the caller slice by slice.
 *
 * Over plain http the socket is read straight into one reused megabyte (`net.Socket`'s `onread`) and the status
 * line and headers are parsed here. undici's HTTP/1.1 client copies every body byte twice more on the way in
 * (`socket.read()` joins what is buffered, and its WASM parser gets a copy of each chunk): on loopback it spends
 * 0.23-0.27 CPU-seconds on a 214 MB body where the socket alone spends 0.05, whichever of its APIs reads it, and
 * on two cores that is CPU the sending server and the hashing need. This reader speaks only what a part needs:
 * one request per connection (`Connection: close`), an answer 206 whose `Content-Range` is the range asked for,
 * and a `Content-Length` body; anything else is an error for the caller to handle. https (the Hub's CDN) goes
 * through undici, where TLS costs more than the copies.
 */
import net from 'node:net';
import { request, type Dispatcher } from 'undici';

export interface RangeGet {
  url: string;
  /** First and last byte (inclusive) of the file to fetch. */
  start: number;
  end: number;
  headers: Record<string, string>;
  /** Each slice of the body and the file offset it starts at; the slice is only valid during the call. */
  onData(chunk: Buffer, at: number): void;
  signal: AbortSignal;
  /** A connection that sends nothing for this long is abandoned (the caller resumes the part). */
  idleMs: number;
  /** For https. */
  dispatcher: Dispatcher;
}

/** The server answered something other than the 206 asked for. */
export class RangeAnswerError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    detail: string,
  ) {
    super(detail);
    this.name = 'RangeAnswerError';
  }
}

const READ_BUFFER = 1024 * 1024;
const MAX_HEAD = 64 * 1024;

/** A transport failure worded with the codes errors.ts knows (so the message says what happened). */
function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The `Content-Range` a 206 for `start-end` must carry, or why it does not fit. */
function rangeMismatch(status: number, contentRange: string | undefined, start: number, end: number): string | undefined {
  if (status !== 206) return `HTTP ${status} to a request for bytes ${start}-${end}`;
  const m = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  if (!m || Number(m[1]) !== start || Number(m[2]) !== end) return `bytes ${contentRange ?? '(no Content-Range)'} where ${start}-${end} was asked`;
  return undefined;
}

export function getRange(req: RangeGet): Promise<void> {
  return new URL(req.url).protocol === 'http:' ? overSocket(req) : overUndici(req);
}

async function overUndici(req: RangeGet): Promise<void> {
  const res = await request(req.url, {
    method: 'GET',
    headers: { ...req.headers, range: `bytes=${req.start}-${req.end}` },
    dispatcher: req.dispatcher,
    signal: req.signal,
    bodyTimeout: req.idleMs,
    highWaterMark: 4 * 1024 * 1024,
  });
  const mismatch = rangeMismatch(res.statusCode, res.headers['content-range'] as string | undefined, req.start, req.end);
  if (mismatch) {
    await res.body.dump();
    throw new RangeAnswerError(res.statusCode, res.headers, mismatch);
  }
  let at = req.start;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    req.onData(chunk, at);
    at += chunk.length;
  }
  if (at !== req.end + 1) throw socketError('UND_ERR_SOCKET', `the part ended early (${at - req.start} of ${req.end - req.start + 1} bytes)`);
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw socketError('UND_ERR_SOCKET', `not an HTTP/1.1 answer: ${JSON.stringify(statusLine.slice(0, 60))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

function overSocket(req: RangeGet): Promise<void> {
  const url = new URL(req.url);
  // A header value with a line break would write a header of its own choosing.
  if (Object.values(req.headers).some((v) => /[\r\n]/.test(v))) return Promise.reject(new TypeError('a request header value has a line break'));
  const want = req.end - req.start + 1;
  return new Promise((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let at = req.start;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      req.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => finish(req.signal.reason instanceof Error ? req.signal.reason : new DOMException('The pull was aborted', 'AbortError'));

    /** The bytes of one read; returns false once the part is complete or failed (pausing the socket). */
    const onRead = (n: number, buffer: Buffer): boolean => {
      if (settled) return false;
      let body = buffer.subarray(0, n);
      if (head) {
        head = Buffer.concat([head, body]);
        const blank = head.indexOf('\r\n\r\n');
        if (blank < 0) {
          if (head.length > MAX_HEAD) finish(socketError('UND_ERR_SOCKET', 'the answer has no end of headers'));
          return !settled;
        }
        const { status, headers } = parseHead(head.subarray(0, blank).toString('latin1'));
        const mismatch = rangeMismatch(status, headers['content-range'], req.start, req.end);
        if (mismatch) {
          finish(new RangeAnswerError(status, headers, mismatch));
          return false;
        }
        if ((headers['transfer-encoding'] ?? 'identity') !== 'identity' || Number(headers['content-length']) !== want) {
          finish(socketError('UND_ERR_SOCKET', `a part answered with Content-Length ${headers['content-length']} / Transfer-Encoding ${headers['transfer-encoding']}, not ${want} bytes`));
          return false;
        }
        body = head.subarray(blank + 4);
        head = undefined;
      }
      const take = Math.min(body.length, req.end + 1 - at);
      if (take > 0) {
        try {
          req.onData(body.subarray(0, take), at);
        } catch (e) {
          finish(e as Error);
          return false;
        }
        at += take;
      }
      if (at > req.end) finish();
      return !settled;
    };

    const socket = net.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: onRead },
    });
    socket.setNoDelay(true);
    socket.setTimeout(req.idleMs, () => finish(socketError('UND_ERR_BODY_TIMEOUT', 'the part stalled')));
    // Re-made without `syscall`, which marks disk errors (the writes in onData) as ones no retry can heal.
    socket.on('error', (e: NodeJS.ErrnoException) => finish(socketError(e.code ?? 'UND_ERR_SOCKET', e.message)));
    socket.on('close', () => finish(socketError('UND_ERR_SOCKET', `the connection closed ${at - req.start} bytes into a part of ${want}`)));
    socket.on('connect', () => {
      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join('\r\n')}\r\nrange: bytes=${req.start}-${req.end}\r\nconnection: close\r\n\r\n`);
    });
    if (req.signal.aborted) onAbort();
    else req.signal.addEventListener('abort', onAbort);
  });
}
