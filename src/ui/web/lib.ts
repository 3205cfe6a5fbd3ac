/** Helpers shared by the Spaces pages and the console: same-origin calls, the saved token, SSE, formatting. */
import { createParser } from 'eventsource-parser';

export function bootstrap<T>(): T {
  const el = document.getElementById('bootstrap');
  return JSON.parse(el?.textContent ?? '{}') as T;
}

const TOKEN_KEY = 'modelhost.token';

/** The token a visitor pasted, kept for this tab only (sessionStorage) and sent only to this server. */
export function savedToken(key = TOKEN_KEY): string {
  try {
    return sessionStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

export function saveToken(token: string, key = TOKEN_KEY): void {
  try {
    if (token) sessionStorage.setItem(key, token);
    else sessionStorage.removeItem(key);
  } catch {
    // storage refused (private mode): the token lives only in memory then
  }
}

export const ADMIN_TOKEN_KEY = 'modelhost.adminToken';

export function authHeaders(key = TOKEN_KEY): Record<string, string> {
  const t = savedToken(key);
  return t ? { authorization: `Bearer ${t}` } : {};
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** The server's error text, in either API shape. */
export function errorText(body: unknown, status: number): string {
  if (body && typeof body === 'object') {
    const e = (body as { error?: unknown; detail?: unknown }).error ?? (body as { detail?: unknown }).detail;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  }
  return `The server answered ${status}`;
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** GET/POST JSON against this server; throws HttpError with the server's text on 4xx/5xx. */
export async function api<T>(path: string, init: RequestInit = {}, key = TOKEN_KEY): Promise<T> {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(key), ...(init.body && typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) } });
  const body = await readJson(res);
  if (!res.ok) throw new HttpError(res.status, errorText(body, res.status), body);
  return body as T;
}

export { readJson };

/** Reads a `text/event-stream` body, calling `onData` with each event's parsed JSON (or raw text). */
export async function readSse(res: Response, onData: (data: unknown, event?: string) => void): Promise<void> {
  const parser = createParser({
    onEvent(e) {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        // keep the text ([DONE])
      }
      onData(data, e.event);
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
}

export const fmt = {
  score: (n: number) => n.toFixed(3),
  ms: (n: number | null | undefined) => (n === null || n === undefined ? '–' : n < 1000 ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : `${(n / 1000).toFixed(2)} s`),
  bytes: (n: number) => (n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024 ** 3).toFixed(2)} GB`),
  usd: (n: number | null | undefined) => (n === null || n === undefined ? '–' : `$${n < 0.01 && n > 0 ? n.toFixed(6) : n.toFixed(2)}`),
  pct: (n: number) => `${(n * 100).toFixed(1)} %`,
  time: (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '–'),
};

/** A stable colour index for an entity or label name (8 colours), as the Hub widgets do. */
export function colourIndex(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 8;
}

export async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
