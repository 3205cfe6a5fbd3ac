/**
 * The tiny-model factory: every model loads and runs in its @huggingface/transformers pipeline
 * from local files, the bytes are reproducible, and batching (padding) does not change results.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { RawImage, Tensor, env, pipeline } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_MODEL_ID, TINY_MODEL_IDS, writeBenchModel, writeTinyModels } from '../tools/tiny-models/index.ts';

let dir = '';
// Encoder-decoders: weights in an encoder and a merged decoder graph rather than one model.onnx.
const SEQ2SEQ = ['tiny/t5', 'tiny/bart', 'tiny/marian', 'tiny/whisper', 'tiny/vit-gpt2'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tiny-models-'));
  const written = await writeTinyModels(dir);
  expect(written).toEqual([...TINY_MODEL_IDS]);
  // Local files only; no file cache (it lives in node_modules and could hold another model under the same id).
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = dir;
  env.useFSCache = false;
  env.useBrowserCache = false;
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
};

const opts = { dtype: 'fp32' } as const;

describe('tiny model files', () => {
  it('writes every model folder in Hugging Face layout with a model card', async () => {
    for (const id of TINY_MODEL_IDS) {
      const files = await listFiles(join(dir, id));
      // Encoder-decoders come as the two graphs transformers.js loads for them.
      const weights = SEQ2SEQ.includes(id) ? ['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx'] : ['onnx/model.onnx'];
      expect(files).toEqual(expect.arrayContaining(['config.json', 'README.md', '.factory-version', ...weights]));
      // Image-only and audio-classification models have a pre-processor (image processor or feature extractor) and no tokenizer.
      if (['tiny/vit', 'tiny/yolos', 'tiny/dpt', 'tiny/vit-features', 'tiny/segformer', 'tiny/ast', 'tiny/wav2vec2'].includes(id)) expect(files).toContain('preprocessor_config.json');
      else expect(files).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']));
      const readme = await readFile(join(dir, id, 'README.md'), 'utf8');
      expect(readme).toMatch(/^---\npipeline_tag: [a-z0-9-]+\nlibrary_name: transformers\.js\nlicense: apache-2\.0\ntags:\n( {2}- .+\n)+---\n/);
      expect(readme).toContain('generated tiny test model');
      for (const w of weights) expect((await readFile(join(dir, id, w))).length, `${id}/${w}`).toBeLessThan(1024 * 1024);
    }
    const embed = await listFiles(join(dir, 'tiny/minilm-embed'));
    expect(embed).toEqual(expect.arrayContaining(['modules.json', '1_Pooling/config.json']));
    const pooling = JSON.parse(await readFile(join(dir, 'tiny/minilm-embed/1_Pooling/config.json'), 'utf8')) as Record<string, unknown>;
    expect(pooling['pooling_mode_mean_tokens']).toBe(true);
    expect(await readFile(join(dir, 'tiny/minilm-embed/README.md'), 'utf8')).toMatch(/- sentence-similarity\n[\s\S]*- sentence-transformers\n/);
  });

  it('is deterministic: a second factory run gives byte-identical files', async () => {
    const other = await mkdtemp(join(tmpdir(), 'tiny-models-again-'));
    try {
      await writeTinyModels(other);
      for (const id of TINY_MODEL_IDS) {
        const files = await listFiles(join(dir, id));
        expect(await listFiles(join(other, id))).toEqual(files);
        for (const f of files) {
          const a = await readFile(join(dir, id, f));
          const b = await readFile(join(other, id, f));
          expect(a.equals(b), `${id}/${f}`).toBe(true);
        }
      }
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  }, 60_000);

  it('skips current models unless forced, and rejects unknown ids', async () => {
    expect(await writeTinyModels(dir)).toEqual([]);
    expect(await writeTinyModels(dir, { only: ['tiny/vit'], force: true })).toEqual(['tiny/vit']);
    await expect(writeTinyModels(dir, { only: ['tiny/nope'] })).rejects.toThrow(/unknown tiny model/);
  }, 60_000);

  it('writes the bench model with custom dims (small here; the default is tens of MB)', async () => {
    const folder = await writeBenchModel(dir, { hidden: 64, layers: 1, heads: 2, intermediate: 128 });
    expect(folder).toBe(join(dir, BENCH_MODEL_ID));
    const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'bert', hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 128 });
    const classify = await pipeline('text-classification', BENCH_MODEL_ID, opts);
    const out = (await classify(['a short one', 'and a somewhat longer second text'])) as { label: string }[];
    expect(out.map((o) => ['NEGATIVE', 'POSITIVE'].includes(o.label))).toEqual([true, true]);
    await classify.dispose();
  }, 60_000);
});

describe('tiny models run in transformers.js pipelines', () => {
  it('text-classification (tiny/bert-sentiment), including a 512-token truncated input', async () => {
    const classify = await pipeline('text-classification', 'tiny/bert-sentiment', opts);
    const out = (await classify('I love this movie, it is wonderful!')) as { label: string; score: number }[];
    expect(out).toHaveLength(1);
    expect(['NEGATIVE', 'POSITIVE']).toContain(out[0]?.label);
    expect(out[0]?.score).toBeGreaterThan(0.5);
    const all = (await classify('terrible film', { top_k: null })) as { label: string; score: number }[];
    expect(all.map((x) => x.label).sort()).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(all.reduce((s, x) => s + x.score, 0)).toBeCloseTo(1, 5);
    const long = Array.from({ length: 700 }, (_, i) => `word${i % 10}`).join(' ');
    const longOut = (await classify(long)) as { label: string; score: number }[];
    expect(Number.isFinite(longOut[0]?.score)).toBe(true);
    await classify.dispose();
  }, 60_000);

  it('zero-shot-classification (tiny/bert-nli)', async () => {
    const zs = await pipeline('zero-shot-classification', 'tiny/bert-nli', opts);
    const out = (await zs('The team won the final match yesterday.', ['sport', 'politics', 'cooking'])) as {
      labels: string[];
      scores: number[];
    };
    expect([...out.labels].sort()).toEqual(['cooking', 'politics', 'sport']);
    expect(out.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    await zs.dispose();
  }, 60_000);

  it('token-classification (tiny/bert-ner)', async () => {
    const ner = await pipeline('token-classification', 'tiny/bert-ner', opts);
    const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC'];
    const out = (await ner('My name is Sarah and I live in London', { ignore_labels: [] })) as { entity: string; word: string; score: number }[];
    // One entry per word piece (no special tokens): the text is 9 words, all in the vocab.
    expect(out.map((t) => t.word)).toEqual(['my', 'name', 'is', 'sarah', 'and', 'i', 'live', 'in', 'london']);
    for (const t of out) expect(labels).toContain(t.entity);
    await ner.dispose();
  }, 60_000);

  it('fill-mask (tiny/bert-mlm)', async () => {
    const fill = await pipeline('fill-mask', 'tiny/bert-mlm', opts);
    const out = (await fill('The goal of life is [MASK].')) as { score: number; token: number; token_str: string; sequence: string }[];
    expect(out).toHaveLength(5);
    for (const o of out) {
      expect(o.sequence.startsWith('the goal of life is')).toBe(true);
      expect(o.score).toBeGreaterThan(0);
    }
    await fill.dispose();
  }, 60_000);

  it('question-answering (tiny/bert-qa)', async () => {
    const qa = await pipeline('question-answering', 'tiny/bert-qa', opts);
    const context = 'my name is sarah and i live in london';
    const out = (await qa('Where do I live?', context)) as { answer: string; score: number };
    expect(out.answer.length).toBeGreaterThan(0);
    expect(context).toContain(out.answer);
    expect(out.score).toBeGreaterThan(0);
    await qa.dispose();
  }, 60_000);

  it('feature-extraction (tiny/minilm-embed) with mean pooling and normalization', async () => {
    const embed = await pipeline('feature-extraction', 'tiny/minilm-embed', opts);
    const out = await embed(['hello world', 'bonjour le monde, comment allez vous'], { pooling: 'mean', normalize: true });
    expect(out.dims).toEqual([2, 32]);
    const v = out.tolist() as number[][];
    for (const row of v) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    // Batched (padded) embeddings equal unbatched ones.
    const alone = await embed('hello world', { pooling: 'mean', normalize: true });
    expect(maxAbsDiff(alone.data as Float32Array, (out.data as Float32Array).slice(0, 32))).toBeLessThan(1e-4);
    await embed.dispose();
  }, 60_000);

  it('text-generation (tiny/gpt2): greedy, deterministic, varied', async () => {
    const generate = await pipeline('text-generation', 'tiny/gpt2', opts);
    const prompt = 'Once upon a time';
    const run = async () => (await generate(prompt, { max_new_tokens: 8, do_sample: false })) as { generated_text: string }[];
    const first = await run();
    expect(first[0]?.generated_text.startsWith(prompt)).toBe(true);
    expect(first[0]?.generated_text.length).toBeGreaterThan(prompt.length);
    expect(await run()).toEqual(first);

    // Token level: 8 new tokens, at least 2 distinct.
    const inputs = generate.tokenizer(prompt);
    const ids = (await generate.model.generate({ ...inputs, max_new_tokens: 8, do_sample: false })) as Tensor;
    const promptLen = (inputs['input_ids'] as Tensor).dims[1] ?? 0;
    const fresh = (ids.tolist() as bigint[][])[0]?.slice(promptLen) ?? [];
    expect(fresh).toHaveLength(8);
    expect(new Set(fresh).size).toBeGreaterThanOrEqual(2);

    // The KV cache is consistent: the last token's logits computed from the cache of the prefix
    // equal those of a full forward pass without cache.
    const all = [...((ids.tolist() as bigint[][])[0] ?? [])];
    const ids64 = (t: bigint[]) => new Tensor('int64', BigInt64Array.from(t), [1, t.length]);
    const ones = (n: number) => new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    type Out = Record<string, Tensor>;
    const full = (await generate.model({ input_ids: ids64(all), attention_mask: ones(all.length) })) as Out;
    const prefix = (await generate.model({ input_ids: ids64(all.slice(0, -1)), attention_mask: ones(all.length - 1) })) as Out;
    const past = Object.fromEntries(
      Object.entries(prefix)
        .filter(([name]) => name.startsWith('present.'))
        .map(([name, t]) => [name.replace('present.', 'past_key_values.'), t]),
    );
    expect(Object.keys(past)).toHaveLength(4); // 2 layers × key/value
    const step = (await generate.model({ input_ids: ids64(all.slice(-1)), attention_mask: ones(all.length), past_key_values: past })) as Out;
    const vocab = step['logits']?.dims[2] ?? 0;
    const fullData = full['logits']?.data as Float32Array;
    expect(maxAbsDiff(step['logits']?.data as Float32Array, fullData.slice(-vocab))).toBeLessThan(1e-4);

    // Causal: changing later tokens does not change earlier positions' logits.
    const changed = (await generate.model({ input_ids: ids64([...all.slice(0, 4), ...all.slice(4).reverse()]), attention_mask: ones(all.length) })) as Out;
    expect(maxAbsDiff((changed['logits']?.data as Float32Array).slice(0, 4 * vocab), fullData.slice(0, 4 * vocab))).toBeLessThan(1e-4);

    // Batched prompts (left-padded) generate what each prompt generates alone.
    const batch = (await generate(['The', prompt], { max_new_tokens: 8, do_sample: false })) as { generated_text: string }[][];
    const single = (await generate('The', { max_new_tokens: 8, do_sample: false })) as { generated_text: string }[];
    expect(batch[0]).toEqual(single);
    expect(batch[1]).toEqual(first);
    await generate.dispose();
  }, 60_000);

  it('tiny/gpt2-chat: ChatML tokens are single special tokens, eos is <|im_end|>, the template renders ChatML', async () => {
    const generate = await pipeline('text-generation', 'tiny/gpt2-chat', opts);
    const tok = generate.tokenizer;
    const start = tok.encode('<|im_start|>user', { add_special_tokens: false }) as number[];
    expect(start).toHaveLength(1 + tok.encode('user', { add_special_tokens: false }).length);
    expect(tok.eos_token_id).toBe(tok.encode('<|im_end|>', { add_special_tokens: false })[0]);
    const text = tok.apply_chat_template([{ role: 'user', content: 'Hi' }], { add_generation_prompt: true, tokenize: false }) as string;
    expect(text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    await generate.dispose();
  }, 60_000);

  it('tiny/llama-chat: a Llama graph (GQA cache, rotary positions) whose cached greedy steps equal uncached forward passes', async () => {
    const generate = await pipeline('text-generation', 'tiny/llama-chat', opts);
    const config = generate.model.config as unknown as Record<string, number | string>;
    expect([config.model_type, config.num_attention_heads, config.num_key_value_heads]).toEqual(['llama', 4, 2]);
    const session = (generate.model as unknown as { sessions: Record<string, { inputNames: string[] }> }).sessions.model!;
    expect(session.inputNames).toEqual(expect.arrayContaining(['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key', 'past_key_values.1.value']));
    const inputs = generate.tokenizer.apply_chat_template([{ role: 'user', content: 'Hello there' }], { add_generation_prompt: true, return_dict: true }) as Record<string, Tensor>;
    const promptIds = (inputs['input_ids']!.tolist() as bigint[][])[0]!;
    expect(promptIds.filter((id) => id === BigInt(config.bos_token_id as number))).toHaveLength(1); // the template's bos only
    const out = (await generate.model.generate({ ...inputs, max_new_tokens: 10, do_sample: false })) as Tensor;
    const all = (out.tolist() as bigint[][])[0]!;
    const ids64 = (t: bigint[]) => new Tensor('int64', BigInt64Array.from(t), [1, t.length]);
    const ones = (n: number) => new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
    // Without a cache: one full forward pass, argmax at every generated position.
    const full = (await generate.model({ input_ids: ids64(all), attention_mask: ones(all.length) })) as Record<string, Tensor>;
    // The cache holds the 2 key/value heads, not 4: grouped-query attention ([batch, kv heads, positions, head size]).
    expect(full['present.0.key']!.dims).toEqual([1, 2, all.length, 12]);
    const vocab = full['logits']!.dims[2] ?? 0;
    const data = full['logits']!.data as Float32Array;
    const argmaxAt = (pos: number) => {
      const row = data.subarray(pos * vocab, (pos + 1) * vocab);
      let best = 0;
      for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
      return BigInt(best);
    };
    const uncached = all.slice(promptIds.length).map((_, k) => argmaxAt(promptIds.length - 1 + k));
    expect(all.slice(promptIds.length)).toEqual(uncached);
    // Rotary positions: the same tokens at other positions give other logits.
    const shifted = (await generate.model({ input_ids: ids64([all[0]!, ...all]), attention_mask: ones(all.length + 1) })) as Record<string, Tensor>;
    expect(maxAbsDiff((shifted['logits']!.data as Float32Array).slice(-vocab), data.slice(-vocab))).toBeGreaterThan(1e-3);
    await generate.dispose();
  }, 60_000);

  for (const [id, task, tokenizerClass] of [
    ['tiny/t5', 'text2text-generation', 'T5Tokenizer'],
    ['tiny/bart', 'summarization', 'BartTokenizer'],
    ['tiny/marian', 'translation', 'MarianTokenizer'],
  ] as const) {
    it(`${task} (${id}): its tokenizer class, and cached greedy steps equal uncached decoder passes`, async () => {
      const pipe = await pipeline(task, id, opts);
      expect(pipe.tokenizer.constructor.name).toBe(tokenizerClass);
      const sessions = (pipe.model as unknown as { sessions: Record<string, { inputNames: string[] }> }).sessions;
      expect(sessions.decoder_model_merged!.inputNames).toEqual(
        expect.arrayContaining(['encoder_attention_mask', 'input_ids', 'encoder_hidden_states', 'past_key_values.0.decoder.key', 'past_key_values.1.encoder.value']),
      );
      const text = `${id === 'tiny/marian' ? '>>fr<< ' : ''}The children walked to school every morning.`;
      const [answer] = (await pipe(text, { max_new_tokens: 12 })) as Record<string, string>[];
      expect(typeof Object.values(answer!)[0]).toBe('string');
      const encoded = pipe.tokenizer(text) as unknown as Record<string, Tensor>;
      const all = ((await pipe.model.generate({ ...encoded, max_new_tokens: 12 })) as Tensor).tolist() as bigint[][];
      const sequence = all[0]!;
      // One decoder pass over the whole generated sequence, no cache: the argmax at each position is the next token.
      const full = (await pipe.model({ ...encoded, decoder_input_ids: new Tensor('int64', BigInt64Array.from(sequence), [1, sequence.length]) })) as Record<string, Tensor>;
      const vocab = full['logits']!.dims[2] ?? 0;
      const data = full['logits']!.data as Float32Array;
      const argmaxAt = (pos: number) => {
        const row = data.subarray(pos * vocab, (pos + 1) * vocab);
        let best = 0;
        for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
        return best;
      };
      // Generation settings (forced bos, bad words, no-repeat n-grams) may overrule the argmax: count agreements.
      const agree = sequence.slice(1).filter((id, k) => Number(id) === argmaxAt(k)).length;
      expect(agree).toBeGreaterThanOrEqual(sequence.length - 3);
      await pipe.dispose();
    }, 60_000);
  }

  it('image-classification (tiny/vit) on an in-memory image', async () => {
    const classify = await pipeline('image-classification', 'tiny/vit', opts);
    const width = 48;
    const height = 40; // not 32×32, so the processor's resize runs too
    const data = new Uint8ClampedArray(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
    const out = (await classify(new RawImage(data, width, height, 3), { top_k: 5 })) as { label: string; score: number }[];
    expect(out.map((o) => o.label).sort()).toEqual(['bird', 'car', 'cat', 'dog', 'tree']);
    expect(out.reduce((s, o) => s + o.score, 0)).toBeCloseTo(1, 5);
    await classify.dispose();
  }, 60_000);
});

describe('batching does not change results (padding invariance)', () => {
  const short = 'great movie';
  const long = 'this is a much longer review of the film, with many more words than the short one has';

  it('classifier logits of a short text alone equal its logits in a padded batch', async () => {
    const classify = await pipeline('text-classification', 'tiny/bert-sentiment', opts);
    const logitsOf = async (texts: string[]): Promise<Float32Array> => {
      const inputs = classify.tokenizer(texts, { padding: true, truncation: true });
      const { logits } = (await classify.model(inputs)) as { logits: Tensor };
      return logits.data as Float32Array;
    };
    const alone = await logitsOf([short]);
    const batched = await logitsOf([short, long]);
    expect(maxAbsDiff(alone, batched.slice(0, 2))).toBeLessThan(1e-4);
    // Not trivially true: the two texts get clearly different logits.
    expect(maxAbsDiff(batched.slice(0, 2), batched.slice(2, 4))).toBeGreaterThan(1e-2);
    await classify.dispose();
  }, 60_000);

  it('token logits are unchanged by padding (tiny/bert-ner)', async () => {
    const ner = await pipeline('token-classification', 'tiny/bert-ner', opts);
    const logitsOf = async (texts: string[]): Promise<Tensor> => {
      const inputs = ner.tokenizer(texts, { padding: true, truncation: true });
      return ((await ner.model(inputs)) as { logits: Tensor }).logits;
    };
    const alone = await logitsOf([short]); // [1, S, 9]
    const batched = await logitsOf([short, long]); // [2, L, 9]
    const [, s = 0, labels = 0] = alone.dims;
    expect(maxAbsDiff(alone.data as Float32Array, (batched.data as Float32Array).slice(0, s * labels))).toBeLessThan(1e-4);
    await ner.dispose();
  }, 60_000);

  it('decoder next-token logits are unchanged by left padding (tiny/gpt2)', async () => {
    const generate = await pipeline('text-generation', 'tiny/gpt2', opts);
    const tok = generate.tokenizer;
    tok.padding_side = 'left';
    const lastLogits = async (texts: string[]): Promise<Float32Array[]> => {
      const inputs = tok(texts, { padding: true });
      const { logits } = (await generate.model(inputs)) as { logits: Tensor };
      const [b = 0, s = 0, v = 0] = logits.dims;
      const data = logits.data as Float32Array;
      return Array.from({ length: b }, (_, i) => data.slice((i * s + s - 1) * v, (i * s + s) * v));
    };
    const [alone] = await lastLogits([short]);
    const [padded] = await lastLogits([short, long]);
    expect(alone && padded).toBeTruthy();
    expect(maxAbsDiff(alone ?? [], padded ?? [])).toBeLessThan(1e-4);
    await generate.dispose();
  }, 60_000);
});
