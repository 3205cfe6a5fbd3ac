import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor, random } from '@huggingface/transformers';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/gpt2';
/** A second copy of the same files: another generation model in the same worker. */
const OTHER = 'tiny/gpt2-b';
const EMBED = 'tiny/minilm-embed';
const PROMPTS = ['Hello there', 'Once upon a time', 'The quick brown fox jumps'];
/** Positions of the tiny model (config n_positions). */
const CONTEXT = 512;

interface Reference {
  /** The pipeline's answer with return_full_text (prompt + new text). */
  full: string;
  /** The pipeline's answer with return_full_text: false. */
  text: string;
  /** Ids the model generates greedily. */
  ids: number[];
  promptIds: number[];
}

/** Greedy generation by transformers.js from token ids. */
async function greedyIds(promptIds: number[], maxNewTokens: number): Promise<number[]> {
  const pipe = await reference('text-generation', MODEL);
  const n = promptIds.length;
  const output = await pipe.model.generate({
    input_ids: new Tensor('int64', BigInt64Array.from(promptIds.map(BigInt)), [1, n]),
    attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    max_new_tokens: maxNewTokens,
    do_sample: false,
  });
  return (output.tolist() as bigint[][])[0]!.map(Number).slice(n);
}

/** Greedy generation by transformers.js on the same files. */
async function greedy(prompt: string, maxNewTokens: number): Promise<Reference> {
  const pipe = await reference('text-generation', MODEL);
  const [{ generated_text: full }] = await pipe(prompt, { max_new_tokens: maxNewTokens, do_sample: false });
  const [{ generated_text: text }] = await pipe(prompt, { max_new_tokens: maxNewTokens, do_sample: false, return_full_text: false });
  const encoded = pipe.tokenizer(prompt);
  const promptIds = (encoded.input_ids.tolist() as bigint[][])[0]!.map(Number);
  const output = await pipe.model.generate({ ...encoded, max_new_tokens: maxNewTokens, do_sample: false });
  const ids = (output.tolist() as bigint[][])[0]!.map(Number).slice(promptIds.length);
  return { full, text, ids, promptIds };
}

/** Log-probability of each generated token under one forward pass of the reference model. */
async function logprobs(promptIds: number[], ids: number[]): Promise<number[]> {
  const pipe = await reference('text-generation', MODEL);
  const all = [...promptIds, ...ids];
  const n = all.length;
  const { logits } = await pipe.model({
    input_ids: new Tensor('int64', BigInt64Array.from(all.map(BigInt)), [1, n]),
    attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
  });
  const vocab = logits.dims[2] as number;
  const data = logits.data as Float32Array;
  return ids.map((id, k) => {
    const row = data.subarray((promptIds.length - 1 + k) * vocab, (promptIds.length + k) * vocab);
    const max = Math.max(...row);
    const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    return row[id]! - logZ;
  });
}

/** The shortest run of generated tokens whose text contains a stop sequence: where generation stops. */
async function stopPoint(ids: number[], stops: string[]): Promise<{ tokens: number; text: string } | undefined> {
  const pipe = await reference('text-generation', MODEL);
  for (let j = 1; j <= ids.length; j++) {
    const text = pipe.tokenizer.decode(ids.slice(0, j), { skip_special_tokens: true }) as string;
    if (stops.some((s) => text.includes(s))) return { tokens: j, text };
  }
  return undefined;
}

/** The text up to the first stop sequence (what OpenAI returns). */
function cutAtStop(text: string, stops: string[]): string {
  const at = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
  return Number.isFinite(at) ? text.slice(0, at) : text;
}

/** The `data:` payloads of an SSE body, in order. */
function sseData(body: string): string[] {
  return body
    .split(/\r?\n\r?\n/)
    .flatMap((event) => event.split(/\r?\n/).filter((line) => line.startsWith('data:')))
    .map((line) => line.slice(5).replace(/^ /, ''));
}

async function postStream(url: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('text-generation', () => {
  let server: TestServer;
  let modelsDir: string;
  let tgi: string;
  let completions: string;
  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'modelhost-tg-'));
    for (const [from, to] of [[MODEL, MODEL], [MODEL, OTHER], [EMBED, EMBED]]) {
      cpSync(path.join(TEST_MODELS_DIR, from!), path.join(modelsDir, to!), { recursive: true });
    }
    server = await startServer({ modelsDir });
    tgi = `${server.url}/models/${MODEL}`;
    completions = `${server.url}/v1/completions`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(modelsDir, { recursive: true, force: true });
  });

  describe('parity with transformers.js (greedy)', () => {
    it('TGI-style route: prompt + new text by default, only the new text with return_full_text: false', async () => {
      for (const prompt of PROMPTS) {
        const ref = await greedy(prompt, 12);
        expect(ref.full).toBe(prompt + ref.text);
        const full = await postJson(tgi, { inputs: prompt, parameters: { max_new_tokens: 12 } });
        expect(full.status).toBe(200);
        expect(full.json).toEqual([{ generated_text: ref.full }]);
        const only = await postJson(tgi, { inputs: prompt, parameters: { max_new_tokens: 12, return_full_text: false } });
        expect(only.json).toEqual([{ generated_text: ref.text }]);
        const piped = await postJson(`${tgi}/pipeline/text-generation`, { inputs: prompt, parameters: { max_new_tokens: 12 } });
        expect(piped.json).toEqual([{ generated_text: ref.full }]);
      }
      // repetition_penalty applies to greedy decoding too.
      const pipe = await reference('text-generation', MODEL);
      const [{ generated_text: penalised }] = await pipe(PROMPTS[0], { max_new_tokens: 12, do_sample: false, repetition_penalty: 2, return_full_text: false });
      expect(penalised).not.toBe((await greedy(PROMPTS[0]!, 12)).text);
      const res = await postJson(tgi, { inputs: PROMPTS[0], parameters: { max_new_tokens: 12, repetition_penalty: 2, return_full_text: false } });
      expect(res.json).toEqual([{ generated_text: penalised }]);
    });

    it('/v1/completions: only the new text, with usage', async () => {
      for (const prompt of PROMPTS) {
        const ref = await greedy(prompt, 10);
        const res = await postJson(completions, { model: MODEL, prompt, max_tokens: 10 });
        expect(res.status).toBe(200);
        expect(res.json).toMatchObject({
          object: 'text_completion',
          model: MODEL,
          choices: [{ index: 0, text: ref.text, finish_reason: 'length', logprobs: null }],
          usage: { prompt_tokens: ref.promptIds.length, completion_tokens: 10, total_tokens: ref.promptIds.length + 10 },
        });
        expect(res.json.id).toMatch(/^cmpl-/);
        expect(Number.isInteger(res.json.created)).toBe(true);
        const echo = await postJson(completions, { model: MODEL, prompt, max_tokens: 10, echo: true });
        expect(echo.json.choices[0].text).toBe(prompt + ref.text);
        // The model in the URL wins over the body's (the JS client sends its endpoint URL there).
        const byUrl = await postJson(`${tgi}/v1/completions`, { model: `${server.url}/models/${MODEL}`, prompt: [prompt], max_tokens: 10 });
        expect(byUrl.json.choices[0].text).toBe(ref.text);
      }
    });

    it('details: the generated ids, texts that add up to the new text, and the model\'s logprobs', async () => {
      const prompt = PROMPTS[1]!;
      const ref = await greedy(prompt, 12);
      const res = await postJson(tgi, { inputs: prompt, parameters: { max_new_tokens: 12, details: true, return_full_text: false } });
      expect(res.status).toBe(200);
      const [{ generated_text, details }] = res.json as Json[];
      expect(generated_text).toBe(ref.text);
      expect(details.tokens.map((t: Json) => t.id)).toEqual(ref.ids);
      expect(details.tokens.map((t: Json) => t.text).join('')).toBe(ref.text);
      expect(details.generated_tokens).toBe(ref.ids.length);
      const eos = (await reference('text-generation', MODEL)).tokenizer.eos_token_id;
      expect(details.finish_reason).toBe(ref.ids.length < 12 || ref.ids.at(-1) === eos ? 'eos_token' : 'length');
      expect(details.seed).toBeNull();
      for (const t of details.tokens) {
        expect(Number.isFinite(t.logprob)).toBe(true);
        expect(t.logprob).toBeLessThan(0);
        expect(t.special).toBe(false);
      }
      expectClose(
        details.tokens.map((t: Json) => t.logprob),
        await logprobs(ref.promptIds, ref.ids),
      );
    });

    it('stop sequences end generation (stop_sequence); /v1/completions leaves them out', async () => {
      const prompt = PROMPTS[0]!;
      const ref = await greedy(prompt, 16);
      const pipe = await reference('text-generation', MODEL);
      const tokenText = (k: number) => pipe.tokenizer.decode([ref.ids[k]!]) as string;
      // One stop is a whole token's text; another spans the boundary between two tokens.
      const spanning = tokenText(5).slice(-1) + tokenText(6).slice(0, 2);
      for (const stops of [[tokenText(3)], [spanning], ['#never#', tokenText(8)]]) {
        const at = await stopPoint(ref.ids, stops);
        expect(at, JSON.stringify(stops)).toBeDefined();
        const res = await postJson(tgi, { inputs: prompt, parameters: { max_new_tokens: 16, stop: stops, details: true } });
        expect(res.status).toBe(200);
        const [{ generated_text, details }] = res.json as Json[];
        expect(generated_text).toBe(prompt + at!.text);
        expect(details.finish_reason).toBe('stop_sequence');
        expect(details.generated_tokens).toBe(at!.tokens);
        const cmpl = await postJson(completions, { model: MODEL, prompt, max_tokens: 16, stop: stops.length === 1 ? stops[0] : stops });
        expect(cmpl.json.choices[0]).toMatchObject({ text: cutAtStop(ref.text, stops), finish_reason: 'stop' });
        expect(ref.text.startsWith(cmpl.json.choices[0].text)).toBe(true);
      }
      const never = await postJson(tgi, { inputs: prompt, parameters: { max_new_tokens: 16, stop: ['#never#'], details: true } });
      expect(never.json[0].generated_text).toBe(ref.full);
      expect(never.json[0].details.finish_reason).toBe('length');
    });
  });

  describe('sampling', () => {
    it('a seed makes sampling reproducible, the same as transformers.js with that seed, and seeds differ', async () => {
      const prompt = PROMPTS[1]!;
      const params = { max_new_tokens: 12, do_sample: true, return_full_text: false };
      const run = async (seed: number, extra: Record<string, unknown> = {}) => {
        const res = await postJson(tgi, { inputs: prompt, parameters: { ...params, ...extra, seed, details: true }, options: { use_cache: false } });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-cache')).toBe('MISS');
        expect(res.json[0].details.seed).toBe(seed);
        return res.json[0].generated_text as string;
      };
      const first = await run(42);
      expect(await run(42)).toBe(first);
      const pipe = await reference('text-generation', MODEL);
      random.seed(42);
      const [{ generated_text: sampled }] = await pipe(prompt, { max_new_tokens: 12, do_sample: true, return_full_text: false });
      expect(first).toBe(sampled);
      const others = await Promise.all([1, 2, 3, 4, 5].map((seed) => run(seed)));
      expect(others.some((t) => t !== first)).toBe(true);
      // Temperature and top_k reach the sampler.
      const hot = await run(42, { temperature: 5, top_k: 200 });
      random.seed(42);
      const [{ generated_text: hotRef }] = await pipe(prompt, { max_new_tokens: 12, do_sample: true, temperature: 5, top_k: 200, return_full_text: false });
      expect(hot).toBe(hotRef);
      expect(hot).not.toBe(first);
      // top_p is applied (transformers.js 4.3 ignores it): a nucleus this small holds only the most likely token,
      // so sampling from it gives the greedy text, whatever the temperature.
      const nucleus = await run(42, { temperature: 3, top_p: 0.01 });
      const [{ generated_text: greedyRef }] = await pipe(prompt, { max_new_tokens: 12, do_sample: false, return_full_text: false });
      expect(nucleus).toBe(greedyRef);
      expect(await run(42, { temperature: 3, top_p: 0.9 })).not.toBe(greedyRef);
      // As in TGI, a sampling warper without do_sample still samples (the same text as with do_sample: true).
      const implied = await postJson(tgi, {
        inputs: prompt,
        parameters: { max_new_tokens: 12, temperature: 5, top_k: 200, seed: 42, return_full_text: false },
        options: { use_cache: false },
      });
      expect(implied.json[0].generated_text).toBe(hotRef);
    });

    it('token texts add up to the text when a character spans several byte-level tokens', async () => {
      // At a high temperature over the whole vocabulary the model emits raw UTF-8 bytes, some of which form
      // multi-byte characters; each token's own decode is then U+FFFD, and only the sequence decodes right.
      const prompt = 'Once upon';
      const sampling = { max_new_tokens: 40, do_sample: true, temperature: 100, top_k: 957 };
      const pipe = await reference('text-generation', MODEL);
      let multiByte = 0;
      for (let seed = 0; seed < 60; seed++) {
        const res = await postJson(tgi, { inputs: prompt, parameters: { ...sampling, seed, details: true, return_full_text: false }, options: { use_cache: false } });
        expect(res.status).toBe(200);
        const [{ generated_text, details }] = res.json as Json[];
        random.seed(seed);
        const [{ generated_text: want }] = await pipe(prompt, { ...sampling, return_full_text: false });
        expect(generated_text, `seed ${seed}`).toBe(want);
        expect(details.tokens.map((t: Json) => t.text).join(''), `seed ${seed}`).toBe(generated_text);
        expect(details.generated_tokens).toBe(details.tokens.length);
        if (![...(generated_text as string)].some((c) => c.codePointAt(0)! > 0x7f && c !== '\ufffd')) continue;
        multiByte++;
        const streamed = await postStream(tgi, { inputs: prompt, parameters: { ...sampling, seed, return_full_text: false }, stream: true });
        const events = sseData(streamed.text).map((d) => JSON.parse(d) as Json);
        expect(events.map((e) => e.token.text).join(''), `seed ${seed} streamed`).toBe(generated_text);
        expect(events.map((e) => e.token.id)).toEqual(details.tokens.map((t: Json) => t.id));
        expect(events.at(-1).generated_text).toBe(generated_text);
      }
      // Otherwise this test would prove nothing.
      expect(multiByte).toBeGreaterThan(0);
    });

    it('/v1/completions samples with temperature and seed like the TGI route', async () => {
      const prompt = PROMPTS[2]!;
      const body = { model: MODEL, prompt, max_tokens: 10, temperature: 0.9, seed: 7 };
      const a = await postJson(completions, body);
      const b = await postJson(completions, body);
      expect(a.json.choices[0].text).toBe(b.json.choices[0].text);
      const tgiSampled = await postJson(tgi, {
        inputs: prompt,
        parameters: { max_new_tokens: 10, do_sample: true, temperature: 0.9, seed: 7, return_full_text: false },
        options: { use_cache: false },
      });
      expect(tgiSampled.json[0].generated_text).toBe(a.json.choices[0].text);
      // temperature 0 is greedy.
      const greedyRef = await greedy(prompt, 10);
      const zero = await postJson(completions, { model: MODEL, prompt, max_tokens: 10, temperature: 0 });
      expect(zero.json.choices[0].text).toBe(greedyRef.text);
    });

    it('unseeded sampling is not served from the cache, and reports the seed it used', async () => {
      const body = { inputs: PROMPTS[0], parameters: { max_new_tokens: 12, do_sample: true, temperature: 3, details: true } };
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const res = await postJson(tgi, body);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-cache')).toBe('MISS');
        answers.push(res.json[0]);
      }
      expect(new Set(answers.map((a) => a.details.seed)).size).toBe(answers.length);
      expect(new Set(answers.map((a) => a.generated_text)).size).toBeGreaterThan(1);
      for (const a of answers) {
        expect(Number.isInteger(a.details.seed)).toBe(true);
        const again = await postJson(tgi, { ...body, parameters: { ...body.parameters, seed: a.details.seed } });
        expect(again.json[0].generated_text).toBe(a.generated_text);
      }
    });

    it('another model sampling at the same time does not change a seeded answer', async () => {
      const seeded = { inputs: PROMPTS[1], parameters: { max_new_tokens: 30, do_sample: true, seed: 42 }, options: { use_cache: false } };
      const want = (await postJson(tgi, seeded)).json;
      const other = `${server.url}/models/${OTHER}`;
      for (let round = 0; round < 3; round++) {
        const [mine] = await Promise.all([
          postJson(tgi, seeded),
          ...Array.from({ length: 4 }, (_, i) => postJson(other, { inputs: PROMPTS[i % 3], parameters: { max_new_tokens: 30, do_sample: true } })),
          postJson(`${completions}`, { model: OTHER, prompt: PROMPTS[2], max_tokens: 30, temperature: 1 }),
        ]);
        expect(mine.json).toEqual(want);
      }
    });
  });

  describe('batching', () => {
    it('concurrent requests (greedy and seeded) get the answers sequential ones get', async () => {
      const bodies = [
        ...PROMPTS.map((p) => ({ inputs: p, parameters: { max_new_tokens: 8 } })),
        ...[11, 12, 13, 14, 15, 16, 17].map((seed, i) => ({
          inputs: PROMPTS[i % PROMPTS.length],
          parameters: { max_new_tokens: 8, do_sample: true, seed },
        })),
      ];
      const noCache = { 'x-use-cache': 'false' };
      const sequential: unknown[] = [];
      for (const body of bodies) sequential.push((await postJson(tgi, body, noCache)).json);
      const concurrent = await Promise.all(bodies.map((body) => postJson(tgi, body, noCache)));
      concurrent.forEach((res, i) => {
        expect(res.status).toBe(200);
        expect(res.json).toEqual(sequential[i]);
      });
      for (const [i, prompt] of PROMPTS.entries()) expect(sequential[i]).toEqual([{ generated_text: (await greedy(prompt, 8)).full }]);
    });
  });

  describe('context length', () => {
    it('refuses prompt + max_new_tokens beyond the model\'s positions with a 400, on both APIs', async () => {
      const longPrompt = Array.from({ length: 600 }, (_, i) => `w${i % 10}`).join(' ');
      const pipe = await reference('text-generation', MODEL);
      const promptTokens = pipe.tokenizer('Hi').input_ids.dims[1] as number;
      const fits = await postJson(tgi, { inputs: 'Hi', parameters: { max_new_tokens: CONTEXT - promptTokens, return_full_text: false, details: true } });
      expect(fits.status).toBe(200);
      expect(fits.json[0].details.generated_tokens).toBeGreaterThan(0);
      for (const body of [
        { inputs: 'Hi', parameters: { max_new_tokens: CONTEXT - promptTokens + 1 } },
        { inputs: longPrompt, parameters: { max_new_tokens: 5 } },
      ]) {
        const res = await postJson(tgi, body);
        expect(res.status).toBe(400);
        expect(res.json.error).toMatch(/max_new_tokens/);
        expect(res.json.error).toMatch(new RegExp(`${CONTEXT}`));
      }
      const cmpl = await postJson(completions, { model: MODEL, prompt: longPrompt, max_tokens: 5 });
      expect(cmpl.status).toBe(400);
      expect(cmpl.json.error).toMatchObject({ type: 'invalid_request_error', code: 'bad_input' });
      expect(cmpl.json.error.message).toMatch(/max_tokens/);
      const streamed = await postStream(completions, { model: MODEL, prompt: 'Hi', max_tokens: CONTEXT, stream: true });
      expect(streamed.status).toBe(400);
      expect(JSON.parse(streamed.text).error.message).toMatch(/max_tokens/);
    });

    it('TGI truncate keeps the last tokens of a long prompt', async () => {
      const longPrompt = Array.from({ length: 600 }, (_, i) => `w${i % 10}`).join(' ');
      const pipe = await reference('text-generation', MODEL);
      const ids = (pipe.tokenizer(longPrompt).input_ids.tolist() as bigint[][])[0]!.map(Number);
      expect(ids.length).toBeGreaterThan(CONTEXT);
      const newIds = await greedyIds(ids.slice(-50), 6);
      const res = await postJson(tgi, { inputs: longPrompt, parameters: { max_new_tokens: 6, truncate: 50, details: true } });
      expect(res.status).toBe(200);
      expect(res.json[0].details.tokens.map((t: Json) => t.id)).toEqual(newIds);
      expect(res.json[0].generated_text).toBe(longPrompt + pipe.tokenizer.decode(newIds, { skip_special_tokens: true }));
      const zero = await postJson(tgi, { inputs: longPrompt, parameters: { max_new_tokens: 6, truncate: 0 } });
      expect(zero.status).toBe(400);
      expect(zero.json.error).toMatch(/truncate/);
    });
  });

  describe('streaming', () => {
    it('TGI-style SSE: one event per token, generated_text only on the last, no [DONE]', async () => {
      const prompt = PROMPTS[2]!;
      const ref = await greedy(prompt, 10);
      const res = await postStream(tgi, { inputs: prompt, parameters: { max_new_tokens: 10 }, stream: true });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const data = sseData(res.text);
      expect(data).not.toContain('[DONE]');
      const events = data.map((d) => JSON.parse(d) as Json);
      expect(events).toHaveLength(ref.ids.length);
      events.forEach((e, i) => {
        expect(e.index).toBe(i);
        expect(e.token).toMatchObject({ id: ref.ids[i], special: false });
        expect(Number.isFinite(e.token.logprob)).toBe(true);
        expect(e.details).toBeNull();
        if (i < events.length - 1) expect(e.generated_text).toBeNull();
      });
      expect(events.map((e) => e.token.text).join('')).toBe(ref.text);
      expect(events.at(-1).generated_text).toBe(ref.full);
    });

    it('TGI-style SSE with details and stop sequences', async () => {
      const prompt = PROMPTS[0]!;
      const ref = await greedy(prompt, 12);
      const pipe = await reference('text-generation', MODEL);
      const stop = pipe.tokenizer.decode([ref.ids[4]!]) as string;
      const at = (await stopPoint(ref.ids, [stop]))!;
      const res = await postStream(tgi, {
        inputs: prompt,
        parameters: { max_new_tokens: 12, details: true, stop: [stop], return_full_text: false },
        stream: true,
      });
      const events = sseData(res.text).map((d) => JSON.parse(d) as Json);
      expect(events).toHaveLength(at.tokens);
      expect(events.map((e) => e.token.text).join('')).toBe(at.text);
      expect(events.at(-1).generated_text).toBe(at.text);
      expect(events.at(-1).details).toMatchObject({
        finish_reason: 'stop_sequence',
        generated_tokens: at.tokens,
        input_length: ref.promptIds.length,
      });
      // An input refused before the first token is a plain 4xx JSON answer, not a 200 stream.
      const bad = await postStream(tgi, { inputs: prompt, parameters: { max_new_tokens: CONTEXT }, stream: true });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.text).error).toMatch(/max_new_tokens/);
    });

    it('OpenAI SSE: chunks that add up to the non-streamed completion, then [DONE]; include_usage', async () => {
      const prompt = PROMPTS[1]!;
      const body = { model: MODEL, prompt, max_tokens: 9 };
      const plain = (await postJson(completions, body)).json;
      const res = await postStream(completions, { ...body, stream: true, stream_options: { include_usage: true } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const data = sseData(res.text);
      expect(data.at(-1)).toBe('[DONE]');
      const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Json);
      const usage = chunks.at(-1);
      expect(usage.choices).toEqual([]);
      expect(usage.usage).toEqual(plain.usage);
      const texts = chunks.slice(0, -1);
      expect(texts.length).toBeGreaterThan(1);
      for (const c of texts) expect(c).toMatchObject({ id: texts[0].id, object: 'text_completion', model: MODEL });
      expect(texts.map((c) => c.choices[0].text).join('')).toBe(plain.choices[0].text);
      expect(texts.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
      expect(texts.at(-1).choices[0].finish_reason).toBe('length');
      // Without include_usage there is no usage chunk.
      const noUsage = sseData((await postStream(completions, { ...body, stream: true })).text);
      expect(noUsage.at(-1)).toBe('[DONE]');
      expect(noUsage.slice(0, -1).every((d) => (JSON.parse(d) as Json).choices.length === 1)).toBe(true);
    });

    it('concurrent streams each get their own tokens', async () => {
      const bodies = [
        ...PROMPTS.map((p, i) => ({ url: tgi, body: { inputs: p, parameters: { max_new_tokens: 6 + i }, stream: true } })),
        ...PROMPTS.map((p) => ({ url: completions, body: { model: MODEL, prompt: p, max_tokens: 7, stream: true } })),
      ];
      const sequential: string[] = [];
      for (const { url, body } of bodies) sequential.push((await postStream(url, body)).text);
      const concurrent = await Promise.all(bodies.map(({ url, body }) => postStream(url, body)));
      // Batched steps sum in another order: logprobs agree to float precision, tokens and texts exactly.
      const roundLogprob = (_key: string, value: unknown) => (_key === 'logprob' && typeof value === 'number' ? Number(value.toFixed(4)) : value);
      const strip = (text: string) =>
        sseData(text).map((d) => (d === '[DONE]' ? d : JSON.stringify({ ...JSON.parse(d, roundLogprob), id: undefined, created: undefined })));
      concurrent.forEach((res, i) => expect(strip(res.text)).toEqual(strip(sequential[i]!)));
      for (const [i, prompt] of PROMPTS.entries()) {
        const events = sseData(sequential[i]!).map((d) => JSON.parse(d) as Json);
        expect(events.at(-1).generated_text).toBe((await greedy(prompt, 6 + i)).full);
      }
    });

    it('OpenAI SSE leaves stop sequences out exactly as the non-streamed completion does', async () => {
      const prompt = PROMPTS[0]!;
      const ref = await greedy(prompt, 16);
      const pipe = await reference('text-generation', MODEL);
      const tokenText = (k: number) => pipe.tokenizer.decode([ref.ids[k]!]) as string;
      const spanning = tokenText(5).slice(-1) + tokenText(6).slice(0, 2);
      for (const stop of [tokenText(3), spanning, [tokenText(2).slice(0, 2), '#never#']]) {
        const body = { model: MODEL, prompt, max_tokens: 16, stop };
        const plain = (await postJson(completions, body)).json;
        expect(plain.choices[0].finish_reason).toBe('stop');
        const streamed = sseData((await postStream(completions, { ...body, stream: true, echo: true })).text);
        expect(streamed.at(-1)).toBe('[DONE]');
        const chunks = streamed.slice(0, -1).map((d) => JSON.parse(d) as Json);
        expect(chunks.map((c) => c.choices[0].text).join(''), JSON.stringify(stop)).toBe(prompt + plain.choices[0].text);
        expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
      }
    });
  });

  describe('clients', () => {
    it('@huggingface/inference textGeneration and textGenerationStream with endpointUrl', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: tgi });
      const prompt = PROMPTS[2]!;
      const ref = await greedy(prompt, 7);
      const served = (await postJson(completions, { model: MODEL, prompt, max_tokens: 7 })).json.choices[0].text;
      expect(served).toBe(ref.text);
      const out = await client.textGeneration({ inputs: prompt, parameters: { max_new_tokens: 7 } });
      expect(out.generated_text).toBe(served);
      const texts: string[] = [];
      for await (const event of client.textGenerationStream({ inputs: prompt, parameters: { max_new_tokens: 7 } })) {
        texts.push((event as unknown as Json).choices[0].text);
      }
      expect(texts.length).toBeGreaterThan(1);
      expect(texts.join('')).toBe(served);
      // Sampling parameters are forwarded at the root and honoured.
      const sampled = await client.textGeneration({ inputs: prompt, parameters: { max_new_tokens: 7, temperature: 0.9, seed: 7 } });
      const direct = await postJson(completions, { model: MODEL, prompt, max_tokens: 7, temperature: 0.9, seed: 7 });
      expect(sampled.generated_text).toBe(direct.json.choices[0].text);
      // The server root as endpointUrl with a model name works too.
      const rooted = await new InferenceClient('hf_test', { endpointUrl: server.url }).textGeneration({
        model: MODEL,
        inputs: prompt,
        parameters: { max_new_tokens: 7 },
      });
      expect(rooted.generated_text).toBe(served);
    });

    it('the client gets an OpenAI error body for bad parameters', async () => {
      const client = new InferenceClient('hf_test', { endpointUrl: tgi });
      const error = await client.textGeneration({ inputs: 'Hi', parameters: { max_new_tokens: 0 } }).then(
        () => undefined,
        (e: unknown) => e as { httpResponse?: { status: number; body: Json } },
      );
      expect(error?.httpResponse?.status).toBe(400);
      expect(error?.httpResponse?.body.error.message).toMatch(/max_tokens/);
      let streamError: unknown;
      try {
        for await (const _ of client.textGenerationStream({ inputs: 'Hi', parameters: { max_new_tokens: CONTEXT } })) {
          // nothing is expected
        }
      } catch (e) {
        streamError = e;
      }
      expect(String(streamError)).toMatch(/max_tokens/);
    });

    it('OpenAI-style calls by plain fetch: model in the body, unknown model 404', async () => {
      const prompt = PROMPTS[0]!;
      const ref = await greedy(prompt, 6);
      const headers = { authorization: 'Bearer sk-test' };
      const ok = await postJson(completions, { model: MODEL, prompt, max_tokens: 6, temperature: 0 }, headers);
      expect(ok.status).toBe(200);
      expect(ok.json.choices[0].text).toBe(ref.text);
      const missing = await postJson(completions, { model: 'nobody/nothing', prompt, max_tokens: 6 }, headers);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
      expect(missing.json.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
      expect(missing.json.error.message).toMatch(/nobody\/nothing/);
      const byPath = await postJson(`${server.url}/models/nobody/nothing/v1/completions`, { prompt, max_tokens: 6 }, headers);
      expect(byPath.status).toBe(404);
      expect(byPath.json.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found' });
    });
  });

  describe('bad inputs', () => {
    it('TGI-style route: 400 with a JSON {"error"} that names the problem', async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /Missing "inputs"/],
        [{ inputs: '' }, /inputs/],
        [{ inputs: '  ' }, /inputs/],
        [{ inputs: 42 }, /inputs/],
        [{ inputs: ['a', 'b'] }, /inputs/],
        [{ inputs: 'x', parameters: { max_new_tokens: 0 } }, /max_new_tokens/],
        [{ inputs: 'x', parameters: { max_new_tokens: 1_000_000 } }, /max_new_tokens/],
        [{ inputs: 'x', parameters: { max_new_tokens: '10' } }, /max_new_tokens/],
        [{ inputs: 'x', parameters: { max_new_tokens: 1.5 } }, /max_new_tokens/],
        [{ inputs: 'x', parameters: { temperature: -1, do_sample: true } }, /temperature/],
        [{ inputs: 'x', parameters: { temperature: 0, do_sample: true } }, /temperature/],
        [{ inputs: 'x', parameters: { top_p: 1.5 } }, /top_p/],
        [{ inputs: 'x', parameters: { top_k: 0 } }, /top_k/],
        [{ inputs: 'x', parameters: { stop: 'x' } }, /stop/],
        [{ inputs: 'x', parameters: { stop: [''] } }, /stop/],
        [{ inputs: 'x', parameters: { seed: -1 } }, /seed/],
        [{ inputs: 'x', parameters: { do_sample: 'yes' } }, /do_sample/],
        [{ inputs: 'x', parameters: { return_full_text: 'yes' } }, /return_full_text/],
        [{ inputs: 'x', parameters: { details: 1 } }, /details/],
        [{ inputs: 'x', parameters: 'max_new_tokens=5' }, /parameters/],
        [{ inputs: 'x', stream: 'yes' }, /stream/],
      ];
      for (const [body, message] of cases) {
        const res = await postJson(tgi, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(typeof res.json.error).toBe('string');
        expect(res.json.error, JSON.stringify(body)).toMatch(message);
      }
      const stream = await postJson(`${server.url}/models/${EMBED}`, { inputs: 'x', stream: true });
      expect(stream.status).toBe(400);
      expect(stream.json.error).toMatch(/stream.*only.*text-generation/);
      const empty = await fetch(tgi, { method: 'POST', headers: { 'content-type': 'application/json' } });
      expect(empty.status).toBe(400);
      expect(((await empty.json()) as Json).error).toMatch(/empty/);
    });

    it('/v1/completions: 4xx with an OpenAI {"error": {message, type, code}}', async () => {
      const cases: [unknown, number, RegExp][] = [
        [{ model: MODEL }, 400, /prompt/],
        [{ model: MODEL, prompt: '' }, 400, /prompt/],
        [{ model: MODEL, prompt: 42 }, 400, /prompt/],
        [{ model: MODEL, prompt: ['a', 'b'] }, 400, /one prompt/],
        [{ model: MODEL, prompt: 'x', n: 2 }, 400, /\bn\b/],
        [{ model: MODEL, prompt: 'x', max_tokens: 0 }, 400, /max_tokens/],
        [{ model: MODEL, prompt: 'x', max_tokens: 100_000 }, 400, /max_tokens/],
        [{ model: MODEL, prompt: 'x', max_tokens: '5' }, 400, /max_tokens/],
        [{ model: MODEL, prompt: 'x', temperature: -0.5 }, 400, /temperature/],
        [{ model: MODEL, prompt: 'x', temperature: 3 }, 400, /temperature/],
        [{ model: MODEL, prompt: 'x', top_p: 0 }, 400, /top_p/],
        [{ model: MODEL, prompt: 'x', stop: 5 }, 400, /stop/],
        [{ model: MODEL, prompt: 'x', stream: 'yes' }, 400, /stream/],
        [{ prompt: 'x' }, 400, /model/],
        [{ model: EMBED, prompt: 'x' }, 400, /does not support task text-generation/],
        [{ model: 'nobody/nothing', prompt: 'x' }, 404, /does not exist/],
      ];
      for (const [body, status, message] of cases) {
        const res = await postJson(completions, body);
        expect(res.status, JSON.stringify(body)).toBe(status);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(typeof res.json.error.message).toBe('string');
        expect(typeof res.json.error.type).toBe('string');
        expect(typeof res.json.error.code).toBe('string');
        expect(res.json.error.message, JSON.stringify(body)).toMatch(message);
      }
      for (const [raw, message] of [
        ['', /empty/],
        ['{"model": ', /not valid JSON/],
        ['["tiny/gpt2"]', /JSON object/],
      ] as const) {
        const res = await fetch(completions, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
        expect(res.status).toBe(400);
        expect(((await res.json()) as Json).error.message).toMatch(message);
      }
    });
  });
});
