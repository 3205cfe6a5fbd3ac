import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/minilm-embed';
/** The same weights with a sentence-transformers Normalize module and named prompts (written in beforeAll). */
const ST_MODEL = 'tiny/minilm-embed-st';
const PROMPTS = { query: 'query: ', passage: 'passage: ' };

const TEXTS = [
  'The cat sat on the mat.',
  'A much longer sentence about the weather, which is lovely today, and about going for a walk in the park.',
  'Héllo wörld — naïve café!',
  'short',
];
const LONG_TEXT = Array.from({ length: 700 }, (_, i) => `word${i % 50}`).join(' ');

type Pooling = 'mean' | 'cls' | 'none';

/** transformers.js's own feature-extraction pipeline on the same files. */
async function expected(texts: string | string[], pooling: Pooling, normalize: boolean): Promise<unknown> {
  const pipe = await reference('feature-extraction', MODEL);
  return (await pipe(texts, { pooling, normalize })).tolist();
}

/** Per-token vectors of one text, unpadded: [tokens][dim]. */
async function tokenVectors(text: string, normalize = false): Promise<number[][]> {
  const [vectors] = (await expected(text, 'none', false)) as number[][][];
  return normalize ? vectors!.map(unit) : vectors!;
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const unit = (v: number[]) => v.map((x) => x / norm(v));

describe('feature-extraction', () => {
  let server: TestServer;
  let modelsDir: string;
  let url: string;
  let stUrl: string;

  beforeAll(async () => {
    // The generated model has mean pooling and no Normalize module; a copy with Normalize and prompts covers
    // the sentence-transformers settings the server reads from modules.json and config_sentence_transformers.json.
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-fe-'));
    cpSync(path.join(TEST_MODELS_DIR, MODEL), path.join(modelsDir, MODEL), { recursive: true });
    const st = path.join(modelsDir, ST_MODEL);
    cpSync(path.join(TEST_MODELS_DIR, MODEL), st, { recursive: true });
    writeFileSync(
      path.join(st, 'modules.json'),
      JSON.stringify([
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
        { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
      ]),
    );
    writeFileSync(path.join(st, 'config_sentence_transformers.json'), JSON.stringify({ prompts: PROMPTS, default_prompt_name: null }));
    // A slightly longer batch window than the default, so that concurrent requests surely share batches.
    server = await startServer({ modelsDir, batchWaitMs: 10 });
    url = `${server.url}/models/${MODEL}`;
    stUrl = `${server.url}/models/${ST_MODEL}`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  describe('parity with transformers.js', () => {
    it('answers one string with one mean-pooled, unnormalised vector (number[])', async () => {
      for (const text of TEXTS) {
        const res = await postJson(url, { inputs: text });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(Array.isArray(res.json) && res.json.every((x: unknown) => typeof x === 'number')).toBe(true);
        const [vector] = (await expected(text, 'mean', false)) as number[][];
        expectClose(res.json, vector);
        // No Normalize module in modules.json: the vector keeps its length.
        expect(Math.abs(norm(res.json) - 1)).toBeGreaterThan(1e-3);
      }
    });

    it('answers a list with one vector per input (number[][]), whatever their lengths', async () => {
      const res = await postJson(url, { inputs: TEXTS });
      expect(res.status).toBe(200);
      expect(res.json).toHaveLength(TEXTS.length);
      expectClose(res.json, await expected(TEXTS, 'mean', false));
      const one = await postJson(url, { inputs: ['only one'] });
      expectClose(one.json, await expected(['only one'], 'mean', false));
      expect(Array.isArray(one.json[0])).toBe(true);
    });

    it('normalises when asked, at the JSON root (TEI) or under parameters', async () => {
      const want = (await expected(TEXTS, 'mean', true)) as number[][];
      const root = await postJson(url, { inputs: TEXTS, normalize: true });
      const params = await postJson(url, { inputs: TEXTS, parameters: { normalize: true } });
      for (const res of [root, params]) {
        expect(res.status).toBe(200);
        expectClose(res.json, want);
        for (const v of res.json as number[][]) expect(norm(v)).toBeCloseTo(1, 5);
      }
      const off = await postJson(url, { inputs: TEXTS[0], normalize: false });
      expectClose(off.json, ((await expected(TEXTS[0]!, 'mean', false)) as number[][])[0]);
    });

    it('pooling "none" gives per-token vectors of each input\'s own length', async () => {
      const res = await postJson(url, { inputs: TEXTS, pooling: 'none' });
      expect(res.status).toBe(200);
      const pipe = await reference('feature-extraction', MODEL);
      for (const [i, text] of TEXTS.entries()) {
        const tokens = pipe.tokenizer(text).input_ids.dims[1];
        expect(res.json[i]).toHaveLength(tokens);
        expectClose(res.json[i], await tokenVectors(text));
      }
      const single = await postJson(url, { inputs: TEXTS[1], parameters: { pooling: 'none', normalize: true } });
      expectClose(single.json, await tokenVectors(TEXTS[1]!, true));
      for (const v of single.json as number[][]) expect(norm(v)).toBeCloseTo(1, 5);
    });

    it('pooling "cls" takes the first token', async () => {
      const res = await postJson(url, { inputs: TEXTS, pooling: 'cls' });
      expectClose(res.json, await expected(TEXTS, 'cls', false));
    });

    it('truncates inputs longer than the model takes, like the pipeline, unless truncate is false', async () => {
      const res = await postJson(url, { inputs: [LONG_TEXT, 'short'] });
      expect(res.status).toBe(200);
      expectClose(res.json, await expected([LONG_TEXT, 'short'], 'mean', false));
      const refused = await postJson(url, { inputs: LONG_TEXT, truncate: false });
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatch(/truncate/);
      expect(refused.json.error).toMatch(/512/);
      const fits = await postJson(url, { inputs: 'short enough', truncate: false });
      expectClose(fits.json, ((await expected('short enough', 'mean', false)) as number[][])[0]);
    });

    it('truncation_direction "left" keeps the end of a text three times the model\'s length, with [CLS]/[SEP] kept', async () => {
      const pipe = await reference('feature-extraction', MODEL);
      const long = Array.from({ length: 160 }, (_, i) => `On day ${i} the old man walked to the river.`).join(' ');
      const ids = (pipe.tokenizer(long, { add_special_tokens: false }).input_ids.tolist() as bigint[][])[0]!;
      expect(ids.length).toBeGreaterThan(3 * 512);
      // What a tokenizer with truncation_side "left" gives: [CLS] + the last 510 tokens + [SEP], run by transformers.js.
      const [cls, sep] = [(pipe.tokenizer('a').input_ids.tolist() as bigint[][])[0]![0]!, BigInt(pipe.tokenizer.sep_token_id as number)];
      const kept = [cls, ...ids.slice(ids.length - 510), sep];
      const n = kept.length;
      const { last_hidden_state } = await pipe.model({
        input_ids: new Tensor('int64', BigInt64Array.from(kept), [1, n]),
        attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
        token_type_ids: new Tensor('int64', new BigInt64Array(n), [1, n]),
      });
      const width = last_hidden_state.dims[2] as number;
      const data = last_hidden_state.data as Float32Array;
      const mean = Array.from({ length: width }, (_, k) => Array.from({ length: n }, (_, t) => data[t * width + k]!).reduce((a, b) => a + b, 0) / n);
      for (const truncation_direction of ['left', 'Left']) {
        const res = await postJson(url, { inputs: [long, TEXTS[0]], truncation_direction });
        expect(res.status, res.text).toBe(200);
        expectClose(res.json[0], mean, 1e-4);
        // A text that fits is the same either way, and the right-truncated vector differs.
        expectClose(res.json[1], ((await expected(TEXTS[0]!, 'mean', false)) as number[][])[0], 1e-4);
        const right = await postJson(url, { inputs: long });
        expect(Math.abs(right.json[0] - mean[0]!) + Math.abs(right.json[1] - mean[1]!)).toBeGreaterThan(1e-3);
      }
    });

    it('reads Normalize and prompts from a sentence-transformers layout', async () => {
      const res = await postJson(stUrl, { inputs: TEXTS });
      expectClose(res.json, await expected(TEXTS, 'mean', true));
      const off = await postJson(stUrl, { inputs: TEXTS, normalize: false });
      expectClose(off.json, await expected(TEXTS, 'mean', false));
      const query = await postJson(stUrl, { inputs: TEXTS, prompt_name: 'query' });
      expect(query.status).toBe(200);
      expectClose(query.json, await expected(TEXTS.map((t) => PROMPTS.query + t), 'mean', true));
      const unknown = await postJson(stUrl, { inputs: 'x', prompt_name: 'document' });
      expect(unknown.status).toBe(400);
      expect(unknown.json.error).toMatch(/prompt_name/);
      expect(unknown.json.error).toMatch(/document/);
      expect(unknown.json.error).toMatch(/query, passage/);
    });

    it('gives the same answer on every route and for a raw text body', async () => {
      const text = TEXTS[0]!;
      const [want] = (await expected(text, 'mean', false)) as number[][];
      const answers = [
        await postJson(`${server.url}/models/${MODEL}/pipeline/feature-extraction`, { inputs: text }),
        await postJson(`${server.url}/pipeline/feature-extraction/${MODEL}`, { inputs: text }),
        await postJson(`${server.url}/hf-inference/models/${MODEL}`, { inputs: text }),
      ];
      for (const res of answers) {
        expect(res.status).toBe(200);
        expectClose(res.json, want);
      }
      const raw = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
      expect(raw.status).toBe(200);
      expectClose(await raw.json(), want);
    });
  });

  describe('batching', () => {
    it('answers concurrent requests as it answers them one by one, sharing forward passes', async () => {
      const bodies = [
        ...TEXTS.map((t) => ({ inputs: t })),
        ...TEXTS.map((t) => ({ inputs: `${t} again` })),
        { inputs: TEXTS },
        { inputs: [TEXTS[3]!, TEXTS[1]!] },
      ];
      const noCache = { 'x-use-cache': 'false' };
      const sequential: unknown[] = [];
      for (const body of bodies) sequential.push((await postJson(url, body, noCache)).json);
      const before = { ...server.composed.deps.engine.counters };
      const concurrent = await Promise.all(bodies.map((body) => postJson(url, body, noCache)));
      const { batches, items } = server.composed.deps.engine.counters;
      concurrent.forEach((res, i) => {
        expect(res.status).toBe(200);
        expectClose(res.json, sequential[i]);
      });
      expect(items - before.items).toBe(bodies.reduce((n, b) => n + (Array.isArray(b.inputs) ? b.inputs.length : 1), 0));
      expect(batches - before.batches).toBeLessThan(bodies.length);
      // And the sequential answers are transformers.js's.
      expectClose(sequential[0], ((await expected(TEXTS[0]!, 'mean', false)) as number[][])[0]);
    });

    it('refuses a too-long input only for the request that sent it, not for the batch it shared', async () => {
      const bodies = [LONG_TEXT, ...TEXTS].map((t) => ({ inputs: t, truncate: false }));
      const answers = await Promise.all(bodies.map((b) => postJson(url, b, { 'x-use-cache': 'false' })));
      expect(answers[0]!.status).toBe(400);
      expect(answers[0]!.json.error).toMatch(/truncate/);
      for (const [i, text] of TEXTS.entries()) {
        expect(answers[i + 1]!.status).toBe(200);
        expectClose(answers[i + 1]!.json, ((await expected(text, 'mean', false)) as number[][])[0]);
      }
    });
  });

  describe('@huggingface/inference client', () => {
    it('featureExtraction with endpointUrl, including normalize at the root', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: url });
      const single = await client.featureExtraction({ inputs: TEXTS[0]! });
      expectClose(single, ((await expected(TEXTS[0]!, 'mean', false)) as number[][])[0]);
      const list = await client.featureExtraction({ inputs: TEXTS });
      expectClose(list, await expected(TEXTS, 'mean', false));
      const normalized = await client.featureExtraction({ inputs: TEXTS, normalize: true });
      expectClose(normalized, await expected(TEXTS, 'mean', true));
      const withPrompt = await new InferenceClient('hf_test').endpoint(stUrl).featureExtraction({ inputs: TEXTS[1]!, prompt_name: 'passage' });
      expectClose(withPrompt, ((await expected(PROMPTS.passage + TEXTS[1]!, 'mean', true)) as number[][])[0]);
    });

    it('surfaces the server\'s message for bad input', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: url });
      await expect(client.featureExtraction({ inputs: '' })).rejects.toThrow(/inputs: must be a non-empty string/);
    });
  });

  describe('bad inputs', () => {
    it('answers 4xx with a JSON {"error"} that names the problem', async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /Missing "inputs"/],
        [{ inputs: null }, /Missing "inputs"/],
        [{ inputs: '' }, /inputs/],
        [{ inputs: '   ' }, /inputs/],
        [{ inputs: [] }, /inputs.*empty list/],
        [{ inputs: ['ok', 3] }, /inputs\.1/],
        [{ inputs: ['ok', ''] }, /inputs\.1: must be a non-empty string/],
        [{ inputs: 42 }, /inputs/],
        [{ inputs: { text: 'x' } }, /inputs/],
        [{ inputs: Array.from({ length: 257 }, () => 'x') }, /inputs/],
        [{ inputs: 'x', normalize: 'yes' }, /normalize/],
        [{ inputs: 'x', parameters: { normalize: 1 } }, /normalize/],
        [{ inputs: 'x', pooling: 'max' }, /pooling/],
        [{ inputs: 'x', prompt_name: 'query' }, /prompt_name.*query/],
        [{ inputs: 'x', truncate: 'no' }, /truncate/],
        [{ inputs: 'x', truncation_direction: 'up' }, /truncation_direction/],
        [{ inputs: 'x', parameters: [1] }, /parameters/],
        [{ inputs: 'x', stream: true }, /stream.*text-generation/],
      ];
      for (const [body, message] of cases) {
        const res = await postJson(url, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(typeof res.json.error, JSON.stringify(body)).toBe('string');
        expect(res.json.error, JSON.stringify(body)).toMatch(message);
      }
    });

    it('refuses empty, malformed and non-text bodies', async () => {
      const cases: [RequestInit, number, RegExp][] = [
        [{ body: '', headers: { 'content-type': 'application/json' } }, 400, /empty/],
        [{ body: '{"inputs": "x"', headers: { 'content-type': 'application/json' } }, 400, /not valid JSON/],
        [{ body: '[1, 2]', headers: { 'content-type': 'application/json' } }, 400, /JSON object/],
        [{ body: new Uint8Array(fixtureBytes('speech-16k-mono.wav')), headers: { 'content-type': 'audio/wav' } }, 415, /takes text/],
        [{ body: new Uint8Array(fixtureBytes('speech-16k-mono.wav')) }, 415, /takes text/],
      ];
      for (const [init, status, message] of cases) {
        const res = await fetch(url, { method: 'POST', ...init });
        const body = (await res.json()) as { error: string };
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(body.error).toMatch(message);
      }
    });
  });
});
