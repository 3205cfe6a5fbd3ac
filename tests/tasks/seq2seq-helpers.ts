/**
 * Checks shared by the three seq2seq task tests (text2text-generation, summarization, translation): each task file
 * runs them on its own model, then adds what is particular to its task.
 */
import { random } from '@huggingface/transformers';
import { expect, it } from 'vitest';
import { reference } from '../helpers/reference.ts';
import { postJson, type TestServer } from '../helpers/server.ts';
import { expectError, NO_CACHE, sequentialAndConcurrent, TEXTS } from './text-task-helpers.ts';

export interface Seq2SeqCase {
  task: 'text2text-generation' | 'summarization' | 'translation';
  model: string;
  /** The answer's key: generated_text, summary_text or translation_text. */
  key: string;
  /** Parameters every request of the shared checks sends (translation names its target language). */
  base: Record<string, unknown>;
  /** The text transformers.js's pipeline must see for `text` under `base` (e.g. with a `>>fr<<` code). */
  asPipelineInput(text: string): string;
  /** Whether some of TEXTS end before 7 new tokens on this model (so batches mix finished and running rows). */
  endsEarly: boolean;
  server(): TestServer;
}

/** transformers.js's own pipeline for the task, on the same files: the parity reference. */
export async function pipelineAnswer(c: Seq2SeqCase, text: string, options: Record<string, unknown> = {}): Promise<string> {
  const pipe = await reference(c.task, c.model);
  const [answer] = (await pipe(c.asPipelineInput(text), options)) as Record<string, string>[];
  return answer![c.key]!;
}

export function sharedSeq2SeqChecks(c: Seq2SeqCase): void {
  const url = () => `${c.server().url}/models/${c.model}/pipeline/${c.task}`;
  const post = (body: Record<string, unknown>) => postJson(url(), { options: NO_CACHE, ...body });
  const params = (extra: Record<string, unknown> = {}) => ({ ...c.base, ...extra });

  it('answers as transformers.js\'s pipeline does (its default of 256 new tokens, and max_new_tokens)', async () => {
    const endings = new Set<boolean>();
    for (const text of TEXTS.slice(0, 5)) {
      const res = await post({ inputs: text, parameters: params() });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual([{ [c.key]: await pipelineAnswer(c, text) }]);
      const short = await post({ inputs: text, parameters: params({ max_new_tokens: 7 }) });
      const expected = await pipelineAnswer(c, text, { max_new_tokens: 7 });
      expect(short.json).toEqual([{ [c.key]: expected }]);
      endings.add(expected === res.json[0][c.key]);
    }
    // The texts include answers that end before 7 tokens and answers that go on (if the tiny model changes, pick others).
    if (c.endsEarly) expect(endings.size).toBe(2);
  });

  it('takes the generation settings in generate_parameters too (they win over the top level), and max_length', async () => {
    const text = TEXTS[2]!;
    const expected = await pipelineAnswer(c, text, { max_new_tokens: 5 });
    for (const extra of [{ generate_parameters: { max_new_tokens: 5 } }, { max_new_tokens: 30, generate_parameters: { max_new_tokens: 5 } }, { max_length: 6 }]) {
      const res = await post({ inputs: text, parameters: params(extra) });
      expect(res.status, res.text).toBe(200);
      expect(res.json, JSON.stringify(extra)).toEqual([{ [c.key]: expected }]);
    }
    const penalised = await post({ inputs: text, parameters: params({ max_new_tokens: 12, repetition_penalty: 3, no_repeat_ngram_size: 2 }) });
    expect(penalised.json).toEqual([{ [c.key]: await pipelineAnswer(c, text, { max_new_tokens: 12, repetition_penalty: 3, no_repeat_ngram_size: 2 }) }]);
  });

  it('answers a list of inputs with one object per input, each as the single answer', async () => {
    const texts = TEXTS.slice(0, 6);
    const res = await post({ inputs: texts, parameters: params({ max_new_tokens: 12 }) });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toHaveLength(texts.length);
    for (const [i, text] of texts.entries()) expect(res.json[i]).toEqual({ [c.key]: await pipelineAnswer(c, text, { max_new_tokens: 12 }) });
  });

  it('gives the same answers to concurrent requests (one padded batch) as one at a time', async () => {
    const send = (i: number) => post({ inputs: TEXTS[i], parameters: params({ max_new_tokens: 16 }) });
    const { one, all, batches } = await sequentialAndConcurrent(c.server(), send, TEXTS.length);
    expect(batches).toBeLessThan(TEXTS.length);
    for (const [i, text] of TEXTS.entries()) {
      expect(all[i]!.status).toBe(200);
      expect(all[i]!.json).toEqual(one[i]!.json);
      expect(all[i]!.json).toEqual([{ [c.key]: await pipelineAnswer(c, text, { max_new_tokens: 16 }) }]);
    }
  });

  it('samples reproducibly with a seed, as transformers.js does with that seed', async () => {
    const text = TEXTS[0]!;
    const sampled = async (seed: number) => {
      const res = await post({ inputs: text, parameters: params({ max_new_tokens: 12, do_sample: true, seed }) });
      expect(res.status, res.text).toBe(200);
      return res.json[0][c.key] as string;
    };
    const expected = async (seed: number) => {
      random.seed(seed);
      return pipelineAnswer(c, text, { max_new_tokens: 12, do_sample: true });
    };
    const a = await sampled(1);
    expect(await sampled(1)).toBe(a);
    expect(a).toBe(await expected(1));
    const others = new Set([a, await sampled(2), await sampled(3), await sampled(4)]);
    expect(others.size).toBeGreaterThan(1);
  });

  it('refuses malformed requests with a 400 that names the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ parameters: params() }, /Missing "inputs"/],
      [{ inputs: '', parameters: params() }, /inputs.*non-empty/],
      [{ inputs: 42, parameters: params() }, /inputs/],
      [{ inputs: [], parameters: params() }, /inputs.*empty list/],
      [{ inputs: 'Hello', parameters: params({ max_new_tokens: 0 }) }, /parameters\.max_new_tokens/],
      [{ inputs: 'Hello', parameters: params({ max_new_tokens: 'ten' }) }, /parameters\.max_new_tokens/],
      [{ inputs: 'Hello', parameters: params({ generate_parameters: { do_sample: 'yes' } }) }, /parameters\.generate_parameters\.do_sample/],
      [{ inputs: 'Hello', parameters: params({ generate_parameters: 3 }) }, /parameters\.generate_parameters/],
      [{ inputs: 'Hello', parameters: params({ num_beams: 4 }) }, /parameters\.num_beams.*beam search/],
      [{ inputs: 'Hello', parameters: params({ generate_parameters: { top_p: 0.5, do_sample: true } }) }, /parameters\.top_p/],
      [{ inputs: 'Hello', parameters: params({ truncation: 'sometimes' }) }, /parameters\.truncation/],
      [{ inputs: 'Hello', parameters: params({ truncation: 'only_second' }) }, /parameters\.truncation.*pair/],
      [{ inputs: 'Hello', parameters: params({ min_new_tokens: 9, max_new_tokens: 3 }) }, /min_new_tokens/],
      [{ inputs: 'Hello', parameters: params({ clean_up_tokenization_spaces: 'no' }) }, /parameters\.clean_up_tokenization_spaces/],
      [{ inputs: 'Hello', parameters: params(), stream: true }, /stream/],
    ];
    for (const [body, message] of cases) expectError(await postJson(url(), body), message);
  });

  it('refuses a text longer than the model with truncation "do_not_truncate", and truncates it otherwise', async () => {
    const pipe = await reference(c.task, c.model);
    const long = Array.from({ length: 80 }, (_, i) => `On day ${i} the old man walked to the river.`).join(' ');
    expect((pipe.tokenizer(c.asPipelineInput(long)).input_ids.dims as number[])[1]).toBeGreaterThan(pipe.tokenizer.model_max_length as number);
    expectError(await post({ inputs: long, parameters: params({ truncation: 'do_not_truncate' }) }), /longer than the model's \d+ tokens/);
    for (const truncation of [undefined, 'longest_first', 'only_first']) {
      const res = await post({ inputs: long, parameters: params({ max_new_tokens: 8, ...(truncation ? { truncation } : {}) }) });
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual([{ [c.key]: await pipelineAnswer(c, long, { max_new_tokens: 8 }) }]);
    }
  });
}
