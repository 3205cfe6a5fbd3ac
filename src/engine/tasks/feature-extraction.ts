import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.ts';
import { isItemError, itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { cosine, l2normalize } from './math.ts';
import { truncatedLeft } from './truncation.ts';
import type { HandlerContext, Pipe, TaskHandler } from './types.ts';

type Pooling = 'mean' | 'cls' | 'none';

interface SentenceSettings {
  pooling: Pooling;
  normalize: boolean;
  prompts: Record<string, string>;
}

const settingsCache = new Map<string, SentenceSettings>();

function readJson(file: string): unknown {
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined;
}

/**
 * A sentence-transformers model (modules.json) pools and maybe normalises; a plain encoder answers one vector
 * per token. This mirrors what the serverless API returned for each kind.
 */
export function sentenceSettings(dir: string): SentenceSettings {
  const cached = settingsCache.get(dir);
  if (cached) return cached;
  const modules = readJson(path.join(dir, 'modules.json')) as { type?: string; path?: string }[] | undefined;
  let settings: SentenceSettings = { pooling: 'none', normalize: false, prompts: {} };
  if (Array.isArray(modules)) {
    const poolingModule = modules.find((m) => m.type?.endsWith('Pooling'));
    const poolingConfig = poolingModule?.path
      ? (readJson(path.join(dir, poolingModule.path, 'config.json')) as Record<string, unknown> | undefined)
      : undefined;
    const prompts = (readJson(path.join(dir, 'config_sentence_transformers.json')) as { prompts?: Record<string, string> } | undefined)?.prompts;
    settings = {
      pooling: poolingConfig?.pooling_mode_cls_token ? 'cls' : 'mean',
      normalize: modules.some((m) => m.type?.endsWith('Normalize')),
      prompts: prompts ?? {},
    };
  }
  settingsCache.set(dir, settings);
  return settings;
}

/** Embeds texts: per-token vectors (pooling none) or one pooled vector per text. */
export async function embed(
  { pipe }: HandlerContext,
  texts: string[],
  pooling: Pooling,
  normalize: boolean,
  truncate = true,
  fromLeft = false,
): Promise<(number[] | number[][] | ItemError)[]> {
  // Without truncation, a text longer than the model takes is refused on its own (the tokenizer cannot pad a
  // batch past the model's length, and the other texts of the batch may come from other requests).
  const max = pipe.tokenizer.model_max_length;
  const tooLong = texts.map((t) => !truncate && (pipe.tokenizer(t, { truncation: false }).input_ids.dims[1] ?? 0) > max);
  const kept = texts.filter((_, i) => !tooLong[i]);
  const vectors = kept.length > 0 ? await embedBatch(pipe, kept, pooling, normalize, fromLeft) : [];
  let next = 0;
  return texts.map((_, i) =>
    tooLong[i] ? itemError(`inputs: longer than the model's ${max} tokens and truncate is false`) : vectors[next++]!,
  );
}

async function embedBatch(pipe: Pipe, texts: string[], pooling: Pooling, normalize: boolean, fromLeft: boolean): Promise<(number[] | number[][])[]> {
  const encoded = fromLeft ? truncatedLeft(pipe.tokenizer, texts) : pipe.tokenizer(texts, { padding: true, truncation: true });
  const lengths = (encoded.attention_mask.tolist() as bigint[][]).map((m) => m.filter((x) => x === 1n).length);
  const out = await pipe.model(encoded);
  const hidden = out.last_hidden_state ?? out.token_embeddings ?? Object.values(out)[0]!;
  const [, seqLen = 0, width = 0] = hidden.dims;
  const data = hidden.data as Float32Array;
  const vector = (b: number, t: number) => Array.from(data.subarray((b * seqLen + t) * width, (b * seqLen + t + 1) * width));
  return texts.map((_, b) => {
    const length = lengths[b]!;
    if (pooling === 'none') {
      const tokens = Array.from({ length }, (_, t) => vector(b, t));
      return normalize ? tokens.map(l2normalize) : tokens;
    }
    let pooled: number[];
    if (pooling === 'cls') pooled = vector(b, 0);
    else {
      pooled = new Array<number>(width).fill(0);
      for (let t = 0; t < length; t++) vector(b, t).forEach((x, k) => (pooled[k]! += x));
      pooled = pooled.map((x) => x / length);
    }
    return normalize ? l2normalize(pooled) : pooled;
  });
}

export const featureExtraction: TaskHandler = async (ctx, inputs, params) => {
  const settings = sentenceSettings(ctx.dir);
  let texts = inputs as string[];
  if (params.prompt_name) {
    const prompt = settings.prompts[params.prompt_name as string];
    if (prompt === undefined) {
      const known = Object.keys(settings.prompts);
      throw new InputError(`prompt_name: this model has no prompt "${params.prompt_name}"${known.length ? `; known: ${known.join(', ')}` : ''}`);
    }
    texts = texts.map((t) => prompt + t);
  }
  // `sentence` (the OpenAI embeddings route) wants one vector per text even from a plain encoder: mean pooling.
  const pooling = (params.pooling as Pooling | undefined) ?? (params.sentence && settings.pooling === 'none' ? 'mean' : settings.pooling);
  const normalize = (params.normalize as boolean | undefined) ?? settings.normalize;
  const vectors = await embed(ctx, texts, pooling, normalize, params.truncate as boolean, params.truncation_direction === 'left');
  if (!params.count_tokens) return vectors;
  // Token counts for usage reports, as the model saw the text (after truncation, from either side).
  const max = ctx.pipe.tokenizer.model_max_length;
  return vectors.map((v, i) => {
    if (isItemError(v)) return v;
    const tokens = ctx.pipe.tokenizer(texts[i]!, { truncation: false }).input_ids.dims[1] ?? 0;
    return { embedding: v, tokens: Math.min(tokens, max) };
  });
};

export const sentenceSimilarity: TaskHandler = async (ctx, inputs) => {
  const settings = sentenceSettings(ctx.dir);
  return Promise.all(
    (inputs as { source_sentence: string; sentences: string[] }[]).map(async ({ source_sentence, sentences }) => {
      const pooling = settings.pooling === 'none' ? 'mean' : settings.pooling;
      const vectors = (await embed(ctx, [source_sentence, ...sentences], pooling, true)) as number[][];
      return vectors.slice(1).map((v) => cosine(vectors[0]!, v));
    }),
  );
};
