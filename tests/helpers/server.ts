import { compose, type Composed, type ComposeOptions } from '../../src/compose.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEST_MODELS_DIR } from './paths.ts';

export interface TestServer {
  url: string;
  composed: Composed;
  close(): Promise<void>;
}

/**
 * A real server on a loopback port over the tiny test models and the built-in ones. Requests wait for cold
 * models by default here, so tests about answers need not retry; cold-start tests turn that off.
 */
export async function startServer(overrides: Partial<Config> = {}, opts: Omit<ComposeOptions, 'logger'> = {}): Promise<TestServer> {
  // Each server its own database (tokens made by one test must not turn auth on for another). Calls without a token
  // are the owner's (loopback, no token): never limited, so tests about answers never meet a rate limit.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'modelhost-test-data-'));
  // No HF cache unless a test gives one (hfCache: a temp folder): tests never read the machine's own cache.
  const config = { ...loadConfig({ modelsDir: TEST_MODELS_DIR, port: 0, logLevel: 'silent', waitForModelByDefault: true, dataDir, hfCache: false }, {}), ...overrides };
  const composed = await compose(config, { tiers: [{ name: 'anonymous' }, { name: 'free' }], ...opts, logger: false });
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  const address = composed.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, composed, close: () => composed.close() };
}

/** Status, headers, text and (when it parses) JSON of an answer. */
async function answerOf(res: Response) {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const answer = await answerOf(await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }));
  return { ...answer, json: answer.json as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A raw body (a file's bytes, or text) with its Content-Type, as a client uploading a file sends it. */
export async function postBytes(url: string, body: Uint8Array | string, contentType?: string, headers: Record<string, string> = {}) {
  const init = { method: 'POST', body: body as Uint8Array<ArrayBuffer> | string, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers } };
  return answerOf(await fetch(url, init));
}

/** A metric's value from the server's /metrics: of the given model's series, or of an unlabelled one; undefined when absent. */
export async function metricValue(server: TestServer, name: string, model?: string): Promise<number | undefined> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => (model === undefined ? l.startsWith(`${name} `) : l.startsWith(`${name}{`) && l.includes(`model="${model}"`)));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/**
 * Counts server-sent events (`data:` fields) in a stream read chunk by chunk: a field split across two reads is
 * counted once, in the read that completes it.
 */
export function sseEventCounter(): (chunk: Uint8Array) => number {
  const decoder = new TextDecoder();
  let tail = '';
  let count = 0;
  return (chunk) => {
    const text = tail + decoder.decode(chunk, { stream: true });
    count += text.split('data:').length - 1;
    // Four characters cannot hold a whole "data:", so nothing counted is counted again.
    tail = text.slice(-4);
    return count;
  };
}
