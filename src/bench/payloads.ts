/** The payload every target of a run receives: from `--data`, `--data-file`, or a built-in example for the task. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MEDIA_TYPES } from '../core/media.ts';

export interface Payload {
  /** JSON payloads are kept as objects, so each target can set its own `model` / `stream`. */
  json?: Record<string, unknown>;
  /** Binary payloads (an image, a WAV file) are sent as they are. */
  bytes?: Buffer;
  contentType: string;
  /** `flag`, `file:<path>` or `example:<task>`. */
  source: string;
}

/** Example inputs per task, as the Hugging Face API takes them; `conversational` is an OpenAI chat body. */
export const EXAMPLES: Record<string, Record<string, unknown>> = {
  'text-classification': { inputs: 'I love this product, it works exactly as described and arrived a day early.' },
  'token-classification': { inputs: 'My name is Sarah and I live in London, where I work for the BBC.' },
  'fill-mask': { inputs: 'The capital of France is [MASK].' },
  'question-answering': { inputs: { question: 'Where do I live?', context: 'My name is Sarah and I live in London.' } },
  'zero-shot-classification': { inputs: 'I have a problem with my iphone that needs to be resolved asap!', parameters: { candidate_labels: ['urgent', 'not urgent', 'phone', 'tablet'] } },
  'feature-extraction': { inputs: 'Today is a sunny day and I will get some ice cream.' },
  'sentence-similarity': { inputs: { source_sentence: 'That is a happy person', sentences: ['That is a happy dog', 'That is a very happy person', 'Today is a sunny day'] } },
  'text-generation': { inputs: 'Once upon a time,', parameters: { max_new_tokens: 20 } },
  'text2text-generation': { inputs: 'Translate to German: How old are you?' },
  summarization: {
    inputs:
      'The tower is 324 metres tall, about the same height as an 81-storey building, and the tallest structure in Paris. Its base is square, measuring 125 metres on each side.',
  },
  translation: { inputs: 'Меня зовут Вольфганг и я живу в Берлине' },
  'text-to-image': { inputs: 'An astronaut riding a horse on the moon, photo', parameters: { width: 512, height: 512 } },
  'language-identification': { inputs: 'Bonjour tout le monde, comment allez-vous ?' },
  conversational: {
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'In one sentence: why is the sky blue?' },
    ],
    max_tokens: 64,
    temperature: 0,
  },
};

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a JSON object such as {"inputs": "..."}`);
  return value as Record<string, unknown>;
}

function parseJson(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON: ${(e as Error).message}`);
  }
  return asObject(value, where);
}

/** The payload from the flags; `task` picks the built-in example when neither --data nor --data-file is given. */
export function loadPayload(opts: { data?: string; dataFile?: string; task?: string }): Payload {
  if (opts.data !== undefined && opts.dataFile !== undefined) throw new Error('give --data or --data-file, not both');
  if (opts.data !== undefined) return { json: parseJson(opts.data, '--data'), contentType: 'application/json', source: 'flag' };
  if (opts.dataFile !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(opts.dataFile);
    } catch (e) {
      throw new Error(`cannot read --data-file ${opts.dataFile}: ${(e as Error).message}`);
    }
    const ext = path.extname(opts.dataFile).toLowerCase();
    if (ext === '.json') return { json: parseJson(bytes.toString('utf8'), opts.dataFile), contentType: 'application/json', source: `file:${opts.dataFile}` };
    return { bytes, contentType: MEDIA_TYPES[ext] ?? 'application/octet-stream', source: `file:${opts.dataFile}` };
  }
  const task = opts.task ?? 'text-classification';
  const example = EXAMPLES[task];
  if (!example) {
    throw new Error(
      `no built-in example for task ${task}: pass the payload with --data '{"inputs": ...}' or --data-file (JSON, or an image/audio file). ` +
        `Built-in examples: ${Object.keys(EXAMPLES).join(', ')}.`,
    );
  }
  return { json: structuredClone(example), contentType: 'application/json', source: `example:${task}` };
}

/** What a result records of the payload: the JSON itself, or a summary of a binary one. */
export function describePayload(p: Payload): unknown {
  return p.json ?? { contentType: p.contentType, bytes: p.bytes?.length ?? 0 };
}
