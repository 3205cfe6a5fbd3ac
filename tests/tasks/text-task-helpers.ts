/**
 * Shared checks for the text task tests (text-classification, token-classification, zero-shot-classification,
 * fill-mask, question-answering).
 */
import { expect } from 'vitest';
import { postJson, type TestServer } from '../helpers/server.ts';

export type Json = Awaited<ReturnType<typeof postJson>>;

/** Every request a test sends skips the response cache, so each answer really comes from the model. */
export const NO_CACHE = { use_cache: false } as const;

/** A refusal in the wire shape: a 4xx JSON body `{"error": "<message>"}` whose message matches `message`. */
export function expectError(res: Json, message: RegExp, status = 400): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(Object.keys(res.json ?? {}), res.text).toEqual(['error']);
  expect(typeof res.json.error).toBe('string');
  expect(res.json.error).toMatch(message);
}

/** What a BERT tokenizer keeps of a text: lower case, no accents, no `##`, no spacing. */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .toLowerCase()
    .replace(/##/g, '')
    .replace(/\s+/g, '');
}

/**
 * `start`/`end` are character offsets into `text` that cover exactly `word`. Characters matching `unknown` (which
 * the tokenizer turns into [UNK], and decoding drops) may sit inside the span without being in `word`.
 */
export function expectSpan(text: string, item: { start: number; end: number }, word: string, unknown?: RegExp): void {
  expect(Number.isInteger(item.start) && Number.isInteger(item.end), JSON.stringify(item)).toBe(true);
  expect(item.start).toBeGreaterThanOrEqual(0);
  expect(item.end).toBeGreaterThanOrEqual(item.start);
  expect(item.end).toBeLessThanOrEqual(text.length);
  const span = text.slice(item.start, item.end);
  expect(fold(unknown ? span.replace(unknown, '') : span), `${JSON.stringify(item)} in ${JSON.stringify(text)}`).toBe(fold(word));
}

export function softmax(values: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(values));
  const exps = Array.from(values, (x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Sends the same requests one at a time, then all at once, and returns both sets of answers and how many
 * forward passes (engine batches) the concurrent ones took.
 */
export async function sequentialAndConcurrent(
  server: TestServer,
  send: (i: number) => Promise<Json>,
  n: number,
): Promise<{ one: Json[]; all: Json[]; batches: number }> {
  const one: Json[] = [];
  for (let i = 0; i < n; i++) one.push(await send(i));
  // A first concurrent round opens the client's connections, so that the measured rounds arrive together rather
  // than one TCP handshake apart. Whether they meet in one batch still depends on timing on a loaded machine, so a
  // round that happened not to batch is tried again (twice at most); the answers are compared for every round.
  await Promise.all(Array.from({ length: n }, (_, i) => send(i)));
  let all: Json[] = [];
  let batches = n;
  for (let attempt = 0; attempt < 3 && batches >= n; attempt++) {
    const before = server.composed.deps.engine.counters.batches;
    all = await Promise.all(Array.from({ length: n }, (_, i) => send(i)));
    batches = server.composed.deps.engine.counters.batches - before;
  }
  return { one, all, batches };
}

/** Ten texts of different lengths, so a batch of them needs padding. */
export const TEXTS = [
  'I love this little house near the river.',
  'Bad.',
  'The children walked to school every morning while their father was working in the field.',
  'What a great day for a swim in the sea!',
  'My brother lives in Paris and his friend works in Berlin.',
  'no',
  'The old man told a long story about the mountain, the forest and the animals that live there.',
  'Music is the best thing in the world.',
  'She found an answer to the question in the book.',
  'Cold rain again today',
];
