/**
 * Custom server endpoints (issue 18), the acceptance's main path: an OpenAI-compatible server (modelhost's own
 * simulator, standing in for llama-server or vLLM) and a Python http.server speaking the HF route, created through
 * the API and the CLI, answered through the openai SDK and @huggingface/inference, paused, resumed, scaled to zero
 * and woken by a held request, rolled under traffic, and deleted with no process left.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InferenceClient } from '@huggingface/inference';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchRun } from '../../src/bench/result.ts';
import type { TestServer } from '../helpers/server.ts';
import { allGone, BIN, HF_SERVER, replicaPids, simulatorImage } from './custom-helpers.ts';
import { api, call, processAlive, startEndpointServer } from './helpers.ts';

let s: TestServer;
const seen = new Set<number>();

beforeAll(async () => {
  s = await startEndpointServer();
});
afterAll(async () => {
  await s?.close();
  // Stopping modelhost stops every replica it started.
  expect(await allGone([...seen])).toBe(true);
});

async function remember(name: string): Promise<number[]> {
  const pids = await replicaPids(s, name);
  for (const p of pids) seen.add(p);
  return pids;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'endpoints', ...args], { timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('a custom OpenAI-compatible server as an endpoint', () => {
  it('serves the openai SDK (chat and stream) with usage, pauses, resumes, sleeps, wakes held, rolls under traffic and goes', async () => {
    const a = api(s);
    const created = await a.create({ name: 'sim', type: 'public', model: { repository: 'local/echo-llm', image: simulatorImage() } });
    expect(created.status).toBe(200);
    expect(created.json.model.image.custom).toMatchObject({ command: process.execPath, api: 'openai', portVariable: 'PORT', healthRoute: '/health' });
    expect(created.json.model.task).toBe('text-generation');
    const running = await a.until('sim', 'running', 1, 60_000);
    expect(running.status.url).toMatch(/\/endpoints\/sim$/);
    const [first] = await remember('sim');
    expect(processAlive(first!)).toBe(true);

    const openai = new OpenAI({ baseURL: `${s.url}/endpoints/sim/v1`, apiKey: 'unused', maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'forwarded words' }] });
    expect(chat.choices[0]!.message.content).toContain('forwarded words');
    const chunks: string[] = [];
    const stream = await openai.chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'streamed words' }], stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta?.content ?? '');
    expect(chunks.filter(Boolean).length).toBeGreaterThan(1);
    expect(chunks.join('')).toContain('streamed words');
    // Paths its API does not take are refused by modelhost, in the OpenAI shape for /v1 and HF's elsewhere.
    const wrong = await call(s, 'sim', { inputs: 'x' });
    expect(wrong.status).toBe(404);
    expect(wrong.json.error).toMatch(/openai API, which takes POST or GET \/v1/);
    const models = await (await fetch(`${s.url}/endpoints/sim/v1/models`)).json();
    expect(models.object).toBe('list');
    // Usage records carry the token counts from OpenAI `usage` (both answers reported 16 completion tokens; the
    // model list none). The refused path is modelhost's answer, not the endpoint's.
    await expect
      .poll(async () => {
        const rows = ((await (await fetch(`${s.url}/api/usage?by=provider`)).json()) as { rows: { provider: string; requests: number; outputTokens: number }[] }).rows;
        return rows.find((r) => r.provider === 'endpoint:sim');
      }, { timeout: 5000, interval: 100 })
      .toMatchObject({ requests: 3, outputTokens: 32 });
    const metrics = (await a.metrics('sim')).json;
    expect(metrics.requests.byStatus).toEqual({ 200: 3, 404: 1 });
    expect(metrics.replicaList[0].port).toBeGreaterThan(0);

    // Pause: no process; calls refused until resumed.
    await a.action('sim', 'pause');
    await a.until('sim', 'paused');
    expect(await allGone([first!])).toBe(true);
    expect((await postJsonTo(`${s.url}/endpoints/sim/v1/chat/completions`, chatBody('x'))).status).toBe(503);
    await a.action('sim', 'resume');
    await a.until('sim', 'running', 1, 60_000);
    const [second] = await remember('sim');
    expect(second).not.toBe(first);

    // Scale to zero: a call that cannot wait learns the estimate at once; one that can is held until it is awake.
    await a.action('sim', 'scale-to-zero');
    await a.until('sim', 'scaledToZero');
    expect(await allGone([second!])).toBe(true);
    const sleeping = await postJsonTo(`${s.url}/endpoints/sim/v1/chat/completions`, chatBody('wake'));
    expect(sleeping.status).toBe(503);
    expect(sleeping.json.error.message).toMatch(/starting a replica/);
    const held = await postJsonTo(`${s.url}/endpoints/sim/v1/chat/completions`, chatBody('held until awake'), { 'x-scale-up-timeout': '60' });
    expect(held.status).toBe(200);
    expect(held.json.choices[0].message.content).toContain('held until awake');
    // The wake estimate is learned from this endpoint's own starts.
    const learned = (await a.metrics('sim')).json.coldStarts;
    expect(learned.count).toBeGreaterThanOrEqual(2);
    expect(learned.averageSeconds).toBeGreaterThan(0);
    const [third] = await remember('sim');

    // Update of its command line: a rolling restart while calls keep coming, none failing.
    let failures = 0;
    let answered = 0;
    let stop = false;
    const traffic = async () => {
      while (!stop) {
        const r = await postJsonTo(`${s.url}/endpoints/sim/v1/chat/completions`, chatBody('during the roll'));
        if (r.status === 200 && String(r.json.choices?.[0]?.message?.content).includes('during the roll')) answered++;
        else failures++;
      }
    };
    const loops = [traffic(), traffic()];
    await new Promise((r) => setTimeout(r, 300));
    const updated = await a.update('sim', { model: { image: simulatorImage({ latencyMs: { mean: 5, jitter: 0 } }) } });
    expect(updated.status).toBe(200);
    await a.until('sim', 'updating', 0, 10_000).catch(() => undefined);
    await a.until('sim', 'running', 1, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    expect(failures).toBe(0);
    expect(answered).toBeGreaterThan(10);
    const [fourth] = await remember('sim');
    expect(fourth).not.toBe(third);
    expect(await allGone([third!])).toBe(true);
    expect((await a.logs('sim')).text).toMatch(/update: replica sim-\d+ replaces sim-\d+/);

    // modelhost bench measures it by name, streamed through its OpenAI API.
    const bench = parseBenchRun(JSON.parse(await benchJson(['endpoint:sim', '--api', 'openai', '--stream'])));
    expect(bench.targets[0]!.url).toBe(`${s.url}/endpoints/sim/v1/chat/completions`);
    expect(bench.targets[0]!.requests).toMatchObject({ sent: 8, ok: 8, failed: 0 });

    // Deleted: no process left.
    expect((await a.remove('sim')).status).toBe(200);
    expect(await allGone([...seen])).toBe(true);
  }, 180_000);
});

describe('a custom server speaking the HF route, through the CLI', () => {
  it('is created with --wait, answers @huggingface/inference with output computed from the input, and is deleted', async () => {
    const created = await cli(['create', 'hf-py', '--url', s.url, '--type', 'public', '--api', 'hf', '--task', 'text-classification', '--start-timeout', '30', '--wait', '--', 'python3', HF_SERVER]);
    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(/initializing \(0\/1 replicas ready\)/);
    expect(created.stdout).toMatch(/hf-py \(public\)\s+running\s+1\/1 replicas ready/);
    expect(created.stdout).toContain(`server  python3 ${HF_SERVER} (hf API)`);
    const pids = await remember('hf-py');
    expect(pids).toHaveLength(1);

    const client = new InferenceClient().endpoint(`${s.url}/endpoints/hf-py`);
    expect(await client.textClassification({ inputs: 'modelhost' })).toEqual([{ label: 'TSOHLEDOM', score: 0.09 }]);
    expect(await client.textClassification({ inputs: 'ab' })).toEqual([{ label: 'BA', score: 0.02 }]);
    // Its own error answers pass through as they are.
    const bad = await call(s, 'hf-py', { inputs: 42 });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'inputs must be a string' });
    expect(bad.headers.get('x-modelhost-endpoint')).toBe('hf-py');
    // Its output is in the endpoint's logs.
    expect((await cli(['logs', 'hf-py', '--url', s.url, '--tail', '20'])).stdout).toMatch(/\[hf-py-1\] request: "POST \/ HTTP\/1.1" 200/);

    const bench = parseBenchRun(JSON.parse(await benchJson(['endpoint:hf-py'])));
    expect(bench.targets[0]!.url).toBe(`${s.url}/endpoints/hf-py`);
    expect(bench.targets[0]!.requests).toMatchObject({ sent: 8, ok: 8, failed: 0 });

    const removed = await cli(['delete', 'hf-py', '--url', s.url]);
    expect(removed.code).toBe(0);
    expect(await allGone(pids)).toBe(true);
  }, 120_000);
});

/** `modelhost bench <target>` against the test server, 8 calls, 2 at a time; its JSON result. */
async function benchJson(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'bench', ...args, '--base-url', s.url, '-n', '8', '-c', '2', '--json', '-', '--no-progress'], { timeout: 90_000 });
  return stdout;
}

function chatBody(text: string) {
  return { model: 'x', messages: [{ role: 'user', content: text }] };
}

async function postJsonTo(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
