/**
 * An abandoned Gradio call stops its generation, as Gradio's queue does when a session's stream disconnects
 * (`clean_events`): the browser's queue stream (`/queue/data`) or the curl pair's event stream closes mid-run, and
 * the engine stops generating for it within a step instead of finishing the run for nobody.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { metricValue, postJson, startServer, type TestServer } from '../helpers/server.ts';

/** tiny/gpt2 whose card asks every call for 480 new tokens (greedy: it meets no eos before that). */
const MODEL = 'tiny/gpt2-long';
const MAX_NEW_TOKENS = 480;
const SPACE = `/spaces/${MODEL}/gradio_api`;

const metric = async (server: TestServer, name: string): Promise<number> => (await metricValue(server, name, MODEL)) ?? 0;

async function untilIdle(server: TestServer): Promise<void> {
  while ((await metric(server, 'modelhost_generation_active_sequences')) !== 0) await new Promise((r) => setTimeout(r, 5));
}

/** Reads an event stream until `enough` says so, then closes it; returns the text read. */
async function readThenLeave(url: string, enough: (text: string) => boolean): Promise<string> {
  const ctrl = new AbortController();
  const res = await fetch(url, { signal: ctrl.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  let text = '';
  while (!enough(text)) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  ctrl.abort();
  await reader.cancel().catch(() => undefined);
  return text;
}

const generating = (marker: string, n: number) => (text: string) => text.split(marker).length - 1 >= n;

describe('abandoned Gradio calls', () => {
  let server: TestServer;
  let modelsDir: string;
  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'mh-gradio-cancel-'));
    const dir = path.join(modelsDir, MODEL);
    cpSync(path.join(TEST_MODELS_DIR, 'tiny/gpt2'), dir, { recursive: true });
    const card = readFileSync(path.join(dir, 'README.md'), 'utf8');
    writeFileSync(path.join(dir, 'README.md'), card.replace('pipeline_tag: text-generation\n', `pipeline_tag: text-generation\ninference:\n  parameters:\n    max_new_tokens: ${MAX_NEW_TOKENS}\n    do_sample: false\n`));
    server = await startServer({ modelsDir });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  it('a run read to its end generates every token (the measure the others are held to)', async () => {
    const before = await metric(server, 'modelhost_generation_tokens_total');
    const { json } = await postJson(`${server.url}${SPACE}/call/predict`, { data: ['Once upon a time'] });
    const text = await readThenLeave(`${server.url}${SPACE}/call/predict/${(json as { event_id: string }).event_id}`, (t) => t.includes('event: complete'));
    expect(text).toContain('event: complete');
    await untilIdle(server);
    expect((await metric(server, 'modelhost_generation_tokens_total')) - before).toBe(MAX_NEW_TOKENS);
  });

  it('closing the queue stream (the browser left) stops the session\'s runs', async () => {
    const before = await metric(server, 'modelhost_generation_tokens_total');
    const session_hash = `abandon-${Date.now()}`;
    const ids = [];
    for (let i = 0; i < 2; i++) {
      const { status, json } = await postJson(`${server.url}${SPACE}/queue/join`, { data: [`Once upon a time ${i}`], fn_index: 0, session_hash });
      expect(status).toBe(200);
      ids.push((json as { event_id: string }).event_id);
    }
    await readThenLeave(`${server.url}${SPACE}/queue/data?session_hash=${session_hash}`, generating('"process_generating"', 6));
    await untilIdle(server);
    const generated = (await metric(server, 'modelhost_generation_tokens_total')) - before;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(MAX_NEW_TOKENS);
    // A replay of a run says why it ended.
    const replay = await readThenLeave(`${server.url}${SPACE}/call/predict/${ids[0]}`, (t) => t.includes('event: error'));
    expect(replay).toMatch(/event: error\ndata: "Cancelled: the caller closed its stream/);
  });

  it('closing the curl pair\'s event stream stops its run', async () => {
    const before = await metric(server, 'modelhost_generation_tokens_total');
    const { json } = await postJson(`${server.url}${SPACE}/call/predict`, { data: ['Once upon a time'] });
    await readThenLeave(`${server.url}${SPACE}/call/predict/${(json as { event_id: string }).event_id}`, generating('event: generating', 3));
    await untilIdle(server);
    const generated = (await metric(server, 'modelhost_generation_tokens_total')) - before;
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(MAX_NEW_TOKENS);
  });
});
