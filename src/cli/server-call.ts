/**
 * One HTTP call from a CLI command to a running modelhost (`--url`, `--token`): JSON in and out, and a one-line
 * failure that says what to do when the server cannot be reached or refuses. Shared by `endpoints` and
 * `predictions`, whose routes answer errors as `{error}` and as problem documents (`{detail}`) respectively.
 */
import { fail } from './options.ts';

export interface ServerConnection {
  url: string;
  token?: string;
}

/** The parsed JSON answer, or its text when it is not JSON (endpoint logs). Exits with the server's message on an error. */
export async function callServer<T = unknown>(conn: ServerConnection, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, conn.url), {
      method,
      headers: { ...(conn.token ? { authorization: `Bearer ${conn.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    fail(`cannot reach ${conn.url} (${(e as Error).message}); start the server with \`modelhost serve\` or pass --url`);
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // plain text (logs)
  }
  if (!res.ok) {
    const answer = json as { error?: unknown; detail?: unknown } | undefined;
    const message = typeof answer?.detail === 'string' ? answer.detail : typeof answer?.error === 'string' ? answer.error : text.slice(0, 300);
    fail(`${res.status}: ${message}`);
  }
  return json as T;
}
