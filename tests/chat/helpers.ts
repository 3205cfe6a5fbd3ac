/** What the chat tests share: the two tiny chat models, a conversation, and transformers.js as the reference. */
import { Tensor, random } from '@huggingface/transformers';
import { reference } from '../helpers/reference.ts';

export const CHAT_MODELS = ['tiny/gpt2-chat', 'tiny/llama-chat'] as const;

export const CONVERSATION = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'What is the capital of France?' },
  { role: 'assistant', content: 'Paris.' },
  { role: 'user', content: 'And the river that runs through it?' },
];

export const WEATHER_TOOL = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** The prompt transformers.js renders for these messages (same files, same template). */
export async function promptIds(model: string, messages: unknown[], tools?: unknown[]): Promise<Json> {
  const pipe = await reference('text-generation', model);
  return pipe.tokenizer.apply_chat_template(messages, { add_generation_prompt: true, return_dict: true, ...(tools ? { tools } : {}) });
}

export interface Reference {
  promptTokens: number;
  /** Generated ids, eos included. */
  ids: number[];
  /** Each generated token's text, eos excluded (what `logprobs.content[].token` lists). */
  tokens: string[];
  /** The answer's text. */
  text: string;
}

/** transformers.js `generate` on the rendered prompt; `seed` seeds its global generator first. */
export async function referenceGenerate(model: string, messages: unknown[], options: Record<string, unknown>, seed?: number): Promise<Reference> {
  const pipe = await reference('text-generation', model);
  const encoded = await promptIds(model, messages);
  const n = encoded.input_ids.dims[1] as number;
  if (seed !== undefined) random.seed(seed);
  const out = await pipe.model.generate({ ...encoded, ...options });
  const ids = (out.tolist() as bigint[][])[0]!.slice(n).map(Number);
  const eos = new Set<number>([pipe.model.generation_config.eos_token_id].flat().map(Number));
  const kept = ids.filter((id) => !eos.has(id));
  return {
    promptTokens: n,
    ids,
    tokens: kept.map((id) => pipe.tokenizer.decode([id], { skip_special_tokens: false }) as string),
    text: pipe.tokenizer.decode(kept, { skip_special_tokens: true }) as string,
  };
}

/** Log-probability of each generated token under one forward pass of the reference model over prompt + answer. */
export async function forwardLogprobs(model: string, promptTokenIds: number[], ids: number[]): Promise<number[]> {
  const pipe = await reference('text-generation', model);
  const all = [...promptTokenIds, ...ids];
  const n = all.length;
  const { logits } = await pipe.model({
    input_ids: new Tensor('int64', BigInt64Array.from(all.map(BigInt)), [1, n]),
    attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
  });
  const vocab = logits.dims[2] as number;
  const data = logits.data as Float32Array;
  return ids.map((id, k) => {
    const row = data.subarray((promptTokenIds.length - 1 + k) * vocab, (promptTokenIds.length + k) * vocab);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    return row[id]! - (max + Math.log(sum));
  });
}

/** The `data:` payloads of an SSE body, parsed (but `[DONE]`). */
export function sseEvents(body: string): { events: Json[]; done: boolean } {
  const data = body
    .split(/\r?\n\r?\n/)
    .flatMap((event) => event.split(/\r?\n/).filter((line) => line.startsWith('data:')))
    .map((line) => line.slice(5).trim());
  return { events: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Json), done: data[data.length - 1] === '[DONE]' };
}
