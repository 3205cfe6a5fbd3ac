/**
 * Closing the server does not wait on connections that never sent a request (a browser's preconnect, or a pooled
 * client socket whose request was aborted before it was written): Node's closeIdleConnections skips them, and
 * server.close() would otherwise wait a minute (headersTimeout) for each. A request in flight still finishes.
 */
import net from 'node:net';
import { expect, it } from 'vitest';
import { metricValue, startServer } from '../helpers/server.ts';

const within = <T>(ms: number, p: Promise<T>) => Promise.race([p.then(() => 'done' as const), new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), ms))]);

it('closes with a connection open that never sent a request, and lets a request in flight finish', async () => {
  const server = await startServer();
  const { port } = new URL(server.url);
  const silent = net.connect(Number(port), '127.0.0.1');
  await new Promise((resolve) => silent.once('connect', resolve));
  const gone = new Promise((resolve) => silent.once('close', resolve));
  // A generation in flight when the close starts.
  const answer = fetch(`${server.url}/models/tiny/gpt2`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: 'Once upon a time', parameters: { max_new_tokens: 200, do_sample: false } }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as { generated_text: string }[] }));
  while ((await metricValue(server, 'modelhost_generation_active_sequences', 'tiny/gpt2')) !== 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  // Far below the minute the silent connection would hold it otherwise.
  expect(await within(20_000, server.close())).toBe('done');
  expect(await within(1_000, gone)).toBe('done');
  const { status, body } = await answer;
  expect(status).toBe(200);
  expect(body[0]!.generated_text.length).toBeGreaterThan('Once upon a time'.length);
});
