import { z } from 'zod';
import { InputError } from '../errors.ts';
import type { InputModality, TaskId } from './types.ts';

/** Bytes of an image or audio file as received (raw body or decoded base64). */
export interface BinaryInput {
  data: Uint8Array;
  contentType?: string;
}

/** A request body reduced to its parts: `inputs`, `parameters`, and the other root fields. */
export interface TaskRequest {
  inputs: unknown;
  parameters: Record<string, unknown>;
  /** Root-level fields other than inputs/parameters/options (feature-extraction takes TEI options there). */
  root: Record<string, unknown>;
}

/** What the engine runs: one item per input, all sharing `params`. */
export interface EngineRequest {
  items: unknown[];
  params: Record<string, unknown>;
  /** The caller sent one input (not a list): the answer is unwrapped accordingly. */
  single: boolean;
}

export interface TaskSpec {
  id: TaskId;
  /** What a non-JSON body carries for this task. */
  modality: InputModality;
  /** Whether items of concurrent requests can share one forward pass. */
  batchable: boolean;
  /** Validates a request; throws InputError with a message that says what to send. */
  parse(req: TaskRequest): EngineRequest;
  /** Turns the engine's per-item outputs into the task's Hugging Face wire shape. */
  respond(outputs: unknown[], req: EngineRequest): unknown;
  /** Whether a response may be served from the cache (false for sampling, for example). */
  cacheable?(params: Record<string, unknown>): boolean;
}

/** Validates with zod and turns its complaint into a 400 that names the field. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue && issue.path.length > 0 ? `${where}.${issue.path.join('.')}` : where;
  throw new InputError(`${path}: ${issue?.message ?? 'invalid value'}`);
}

export const nonEmptyText = z.string().refine((s) => s.trim().length > 0, 'must be a non-empty string');

/** `inputs` as one string or a non-empty list of strings; a bad list item is named by its index. */
export function textItems(inputs: unknown): { items: string[]; single: boolean } {
  if (Array.isArray(inputs)) {
    const list = validate(z.array(nonEmptyText).min(1, 'must not be an empty list').max(256, 'at most 256 texts per request'), inputs, 'inputs');
    return { items: list, single: false };
  }
  if (typeof inputs !== 'string') throw new InputError('inputs: expected a non-empty string or a list of strings');
  return { items: [validate(nonEmptyText, inputs, 'inputs')], single: true };
}

export const topK = z.number().int().min(1).max(1000);
export const functionToApply = z.enum(['sigmoid', 'softmax', 'none']);

/** Bytes a base64 text of this length decodes to when every character is in the alphabet; -1 if no such text. */
function decodedLength(text: string): number {
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const chars = text.length - pad;
  return chars % 4 === 1 ? -1 : Math.floor((chars * 3) / 4);
}

/** Base64 text (optionally a data: URL) to bytes; throws InputError when it is not base64. */
export function decodeBase64(value: string, where: string): Uint8Array {
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  const raw = comma >= 0 ? value.slice(comma + 1) : value;
  // Node's decoder skips characters outside the alphabet, so when the bytes are as many as the text's length
  // implies, none was skipped and the text was plain base64: the usual case, checked without running regular
  // expressions over a file of megabytes on the event loop. Anything else (line breaks, junk) takes the strict path.
  const bytes = Buffer.from(raw, 'base64');
  if (bytes.length > 0 && bytes.length === decodedLength(raw)) return new Uint8Array(bytes);
  const text = raw.replace(/\s+/g, '');
  if (text.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw new InputError(`${where}: expected base64-encoded file bytes (or send the raw file as the request body)`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Image/audio `inputs`: raw bytes from the body, or base64 in JSON (`inputs`, `inputs.image`, `inputs.audio`). */
export function binaryItem(inputs: unknown, field: 'image' | 'audio'): BinaryInput {
  if (inputs && typeof inputs === 'object' && 'data' in inputs && (inputs as BinaryInput).data instanceof Uint8Array) {
    return inputs as BinaryInput;
  }
  if (typeof inputs === 'string') return { data: decodeBase64(inputs, 'inputs') };
  if (inputs && typeof inputs === 'object' && typeof (inputs as Record<string, unknown>)[field] === 'string') {
    return { data: decodeBase64((inputs as Record<string, string>)[field] as string, `inputs.${field}`) };
  }
  throw new InputError(`inputs: expected the ${field} file as the raw request body, or base64 text in "inputs"`);
}
