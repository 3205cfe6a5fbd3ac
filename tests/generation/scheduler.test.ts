/**
 * Continuous batching (src/engine/generation): concurrent generations share decoder steps and still give exactly
 * the tokens each gives alone and that transformers.js `generate` gives; cancelled ones leave the batch at the
 * next step. Runs the scheduler in this process on the tiny decoders (the engine's worker path is in cancel.test.ts).
 */
import { Tensor, random } from '@huggingface/transformers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createScheduler, modelDefaults, settingsFromParams, type GenerationScheduler, type SchedulerStats } from '../../src/engine/generation/index.ts';
import type { Pipe } from '../../src/engine/tasks/types.ts';
import { reference } from '../helpers/reference.ts';

/** A GPT-2-shaped decoder, and a Llama-shaped one (rotary positions, grouped-query attention: 2 KV heads for 4). */
const MODELS = ['tiny/gpt2', 'tiny/llama-chat'];
const PROMPTS = [
  'Hello there',
  'Once upon a time',
  'The quick brown fox jumps over the lazy dog while the cat watches from the window',
  'a',
  'In the beginning the machine was quiet, and then it started to speak in long and winding sentences',
  'Why?',
  'Numbers: 1 2 3 4 5 6 7 8 9 10',
  'She said',
];

interface Case {
  prompt: string;
  params: Record<string, unknown>;
}

/** 32 requests: every prompt with greedy, sampled (temperature, top_k, penalties) and stop-string settings. */
function mixedCases(): Case[] {
  return PROMPTS.flatMap((prompt, i) => [
    { prompt, params: { max_new_tokens: 5 + i * 6, do_sample: false, stop: [] } },
    { prompt, params: { max_new_tokens: 12 + i * 3, do_sample: true, seed: 100 + i, temperature: 0.7 + i * 0.1, stop: [] } },
    { prompt, params: { max_new_tokens: 30, do_sample: true, seed: 7 * i, top_k: 3 + i, repetition_penalty: 1.2, stop: [] } },
    // Stops on the first space or 'e' of the new text (whichever comes first), so these end early and free their rows.
    { prompt, params: { max_new_tokens: 40, do_sample: i % 2 === 0, seed: i, stop: [' ', 'e'], presence_penalty: 0.5, frequency_penalty: 0.3 } },
  ]);
}

let pipe: Pipe;
const ids = (prompt: string) => Array.from(pipe.tokenizer(prompt).input_ids.data as BigInt64Array, Number);
const settingsOf = (c: Case) => settingsFromParams(c.params, modelDefaults(pipe), (c.params.seed as number | undefined) ?? 0);

function scheduler(options: Record<string, number>, onStats?: (s: SchedulerStats) => void): GenerationScheduler {
  const made = createScheduler(pipe, { options, ...(onStats ? { onStats } : {}) });
  if (!made) throw new Error('the tiny decoders should be graphs the scheduler drives');
  return made;
}

/** transformers.js generate on the same files: greedy, or seeded sampling from its global PRNG. */
async function transformersTokens(c: Case): Promise<number[]> {
  const encoded = pipe.tokenizer(c.prompt);
  if (c.params.do_sample) random.seed(c.params.seed as number);
  const out = await pipe.model.generate({ ...encoded, ...c.params });
  return (out.tolist() as bigint[][])[0]!.map(Number).slice(encoded.input_ids.dims[1]);
}

describe.each(MODELS)('generation scheduler on %s', (model) => {
  beforeAll(async () => {
    pipe = (await reference('text-generation', model)) as unknown as Pipe;
  });

  it('gives 32 concurrent requests of mixed lengths, settings and stops exactly the tokens each gives alone', async () => {
    const cases = mixedCases();
    const batches: number[] = [];
    const batched = scheduler({ maxBatchSize: 64 }, (s) => batches.push(s.batch));
    const together = await Promise.all(cases.map((c) => batched.generate(ids(c.prompt), settingsOf(c))));
    const solo = scheduler({ maxBatchSize: 1 });
    for (const [i, c] of cases.entries()) {
      const alone = await solo.generate(ids(c.prompt), settingsOf(c));
      expect(together[i]!.tokens.map((t) => t.id), `case ${i}: ${JSON.stringify(c.params)}`).toEqual(alone.tokens.map((t) => t.id));
      expect(together[i]!.text).toBe(alone.text);
      expect(together[i]!.finishReason).toBe(alone.finishReason);
      together[i]!.tokens.forEach((t, k) => expect(Math.abs(t.logprob - alone.tokens[k]!.logprob)).toBeLessThan(1e-4));
    }
    // They really shared steps, and the stop strings ended some early.
    expect(Math.max(...batches)).toBeGreaterThanOrEqual(16);
    expect(together.some((r) => r.finishReason === 'stop_sequence')).toBe(true);
    expect(together.some((r) => r.finishReason === 'length')).toBe(true);
  });

  it('gives the tokens of transformers.js generate, greedy and seeded sampling, while batched', async () => {
    const cases = mixedCases().filter((c) => c.params.presence_penalty === undefined && (c.params.stop as string[]).length === 0);
    const batched = scheduler({ maxBatchSize: 64 });
    const together = await Promise.all(cases.map((c) => batched.generate(ids(c.prompt), settingsOf(c))));
    for (const [i, c] of cases.entries()) {
      expect(together[i]!.tokens.map((t) => t.id), `case ${i}: ${JSON.stringify(c.params)}`).toEqual(await transformersTokens(c));
    }
  });

});

describe('generation scheduler', () => {
  beforeAll(async () => {
    pipe = (await reference('text-generation', 'tiny/gpt2')) as unknown as Pipe;
  });

  it('prefills a prompt longer than the chunk in several steps, with the same tokens', async () => {
    const prompt = PROMPTS[4]!.repeat(3);
    const c: Case = { prompt, params: { max_new_tokens: 12, do_sample: false, stop: [] } };
    const promptTokens: number[] = [];
    const chunked = scheduler({ maxBatchSize: 8, prefillChunkTokens: 16 }, (s) => promptTokens.push(s.promptTokens));
    const result = await chunked.generate(ids(prompt), settingsOf(c));
    expect(result.tokens.map((t) => t.id)).toEqual(await transformersTokens(c));
    // Each step took at most one 16-token chunk of the prompt.
    const perStep = promptTokens.map((n, i) => n - (promptTokens[i - 1] ?? 0));
    expect(Math.max(...perStep)).toBeLessThanOrEqual(16);
    expect(perStep.filter((n) => n > 0).length).toBe(Math.ceil(ids(prompt).length / 16));
  });

  it('while others decode, prefills a joining prompt in chunks sized to part of a step; alone, at once', async () => {
    const prompt = PROMPTS[4]!.repeat(3);
    const long = ids(prompt);
    const join: Case = { prompt, params: { max_new_tokens: 8, do_sample: false, stop: [] } };
    const runner: Case = { prompt: 'Once upon a time', params: { max_new_tokens: 120, do_sample: false, stop: [] } };
    const perStep = (stats: SchedulerStats[]) => stats.map((s, i) => s.promptTokens - (stats[i - 1]?.promptTokens ?? 0)).filter((n) => n > 0);

    const aloneStats: SchedulerStats[] = [];
    const alone = await scheduler({ maxBatchSize: 8, prefillChunkTokens: 256 }, (s) => aloneStats.push(s)).generate(long, settingsOf(join));
    expect(perStep(aloneStats)).toEqual([long.length]); // nothing to hold back: the whole prompt in one run

    const stats: SchedulerStats[] = [];
    let onStep: ((s: SchedulerStats) => void) | undefined;
    // Half a step (the default is two): on the tiny decoder that is below the 16-token floor, so the chunks are 16.
    const shared = scheduler({ maxBatchSize: 8, prefillChunkTokens: 256, prefillShareOfStep: 0.5 }, (s) => {
      stats.push(s);
      onStep?.(s);
    });
    const running = shared.generate(ids(runner.prompt), settingsOf(runner));
    await new Promise<void>((resolve) => (onStep = (s) => s.tokens >= 10 && resolve())); // decoding, its step times measured
    const before = stats.length;
    const joined = await shared.generate(long, settingsOf(join));
    const chunks = perStep(stats.slice(before - 1)).slice(1);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(long.length);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Math.max(...chunks)).toBeLessThan(long.length);
    expect(joined.tokens.map((t) => t.id)).toEqual(alone.tokens.map((t) => t.id));
    expect((await running).tokens).toHaveLength(120);
  });

  it('queues beyond the batch bounds and says so in its stats', async () => {
    const stats: SchedulerStats[] = [];
    const bounded = scheduler({ maxBatchSize: 4 }, (s) => stats.push(s));
    const c: Case = { prompt: 'Hello there', params: { max_new_tokens: 6, do_sample: false, stop: [] } };
    const results = await Promise.all(Array.from({ length: 10 }, () => bounded.generate(ids(c.prompt), settingsOf(c))));
    expect(new Set(results.map((r) => JSON.stringify(r.tokens.map((t) => t.id)))).size).toBe(1);
    expect(Math.max(...stats.map((s) => s.active))).toBe(4);
    expect(Math.max(...stats.map((s) => s.batch))).toBe(4);
    expect(Math.max(...stats.map((s) => s.queued))).toBeGreaterThanOrEqual(5);
    expect(stats[stats.length - 1]!.queued).toBe(0);
  });

  it('drops cancelled sequences at the next step: 16 of 32 cancelled leaves 16 active', async () => {
    const stats: SchedulerStats[] = [];
    let onStep: ((s: SchedulerStats) => void) | undefined;
    const batched = scheduler({ maxBatchSize: 64 }, (s) => {
      stats.push(s);
      onStep?.(s);
    });
    const c: Case = { prompt: 'Once upon a time', params: { max_new_tokens: 200, do_sample: true, seed: 1, stop: [] } };
    const controllers = Array.from({ length: 32 }, () => new AbortController());
    const tokensSeen = new Array<number>(32).fill(0);
    const runs = controllers.map((ctrl, i) =>
      batched.generate(ids(c.prompt), { ...settingsOf(c), seed: i }, () => void tokensSeen[i]!++, ctrl.signal).then(
        (r) => ({ ok: true as const, tokens: r.tokens.length }),
        (e: { status?: number }) => ({ ok: false as const, status: e.status }),
      ),
    );
    // Once all 32 decode together, cancel the even ones between two steps.
    let cancelledAtStep = -1;
    let tokensAtCancel: number[] = [];
    await new Promise<void>((resolve) => {
      onStep = (s) => {
        if (s.batch === 32 && cancelledAtStep < 0) {
          cancelledAtStep = s.steps;
          tokensAtCancel = [...tokensSeen];
          controllers.forEach((ctrl, i) => i % 2 === 0 && ctrl.abort());
          resolve();
        }
      };
    });
    const next = await new Promise<SchedulerStats>((resolve) => {
      onStep = (s) => s.steps > cancelledAtStep && resolve(s);
    });
    // The very next step ran with the 16 that are left.
    expect(next.active).toBe(16);
    expect(next.batch).toBe(16);
    const outcomes = await Promise.all(runs);
    outcomes.forEach((o, i) => {
      if (i % 2 === 0) {
        expect(o).toEqual({ ok: false, status: 499 });
        // No token after the cancel: the step in flight (none here, cancelled between steps) is the most it may get.
        expect(tokensSeen[i]).toBe(tokensAtCancel[i]);
      } else expect(o).toEqual({ ok: true, tokens: 200 });
    });
    // The step that finished the last ones reports the batch empty.
    expect(stats[stats.length - 1]!.active).toBe(0);
  });

  it('the same decoder step gives the same logits for a row whatever its batch neighbours', async () => {
    // The property everything above rests on, checked directly on the graph: one prompt alone, then padded beside a longer one.
    const short = ids('Hello there');
    const long = ids('In the beginning the machine was quiet');
    const run = async (rows: number[][]) => {
      const width = Math.max(...rows.map((r) => r.length));
      const input = new BigInt64Array(rows.length * width);
      const mask = new BigInt64Array(rows.length * width);
      const positions = new BigInt64Array(rows.length * width);
      rows.forEach((r, b) => {
        const pad = width - r.length;
        r.forEach((id, t) => {
          input[b * width + pad + t] = BigInt(id);
          mask[b * width + pad + t] = 1n;
          positions[b * width + pad + t] = BigInt(t);
        });
      });
      const { logits } = (await pipe.model({
        input_ids: new Tensor('int64', input, [rows.length, width]),
        attention_mask: new Tensor('int64', mask, [rows.length, width]),
        position_ids: new Tensor('int64', positions, [rows.length, width]),
      })) as unknown as { logits: { dims: number[]; data: Float32Array } };
      const vocab = logits.dims[2]!;
      return (b: number) => (logits.data as Float32Array).slice(((b + 1) * width - 1) * vocab, (b + 1) * width * vocab);
    };
    const alone = (await run([short]))(0);
    const padded = (await run([long, short]))(1);
    let worst = 0;
    alone.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - padded[i]!))));
    expect(worst).toBeLessThan(1e-4);
  });
});
