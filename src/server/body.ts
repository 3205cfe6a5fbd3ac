import { ModelhostError, InputError } from '../core/errors.ts';
import type { InputModality, TaskRequest } from '../core/tasks/index.ts';

/** The `options` of the legacy API, from the body or from its header forms. */
export interface RequestOptions {
  waitForModel?: boolean;
  useCache?: boolean;
}

export interface ParsedBody {
  request: TaskRequest;
  options: RequestOptions;
  /** `stream: true` at the root (TGI). */
  stream: boolean;
}

/** What the first bytes of a file say it is. Clients often send raw files without a Content-Type. */
export function sniff(data: Uint8Array): 'image' | 'audio' | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...data.subarray(from, to));
  if (data.length < 4) return undefined;
  if (data[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image';
  if (data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image';
  if (ascii(0, 4) === 'GIF8' || ascii(0, 2) === 'BM') return 'image';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'image';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'audio';
  if (ascii(0, 4) === 'fLaC' || ascii(0, 4) === 'OggS' || ascii(0, 3) === 'ID3') return 'audio';
  if (data[0] === 0x1a && data[1] === 0x45 && data[2] === 0xdf && data[3] === 0xa3) return 'audio'; // WebM (MediaRecorder)
  if (data[0] === 0xff && ((data[1] ?? 0) & 0xe0) === 0xe0) return 'audio';
  return undefined;
}

function unsupported(message: string): ModelhostError {
  return new ModelhostError('unsupported_media_type', 415, message);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelhostError('bad_json', 400, `The body is not valid JSON (${(e as Error).message}). Send {"inputs": ...}.`);
  }
}

/** A JSON object body (OpenAI routes): 400 for empty, malformed or non-object bodies. */
export function parseJsonObject(body: Buffer | undefined): Record<string, unknown> {
  if (!body || body.length === 0) throw new InputError('The request body is empty. Send a JSON object.');
  const value = parseJson(body.toString('utf8'));
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new InputError('The body must be a JSON object');
  return value as Record<string, unknown>;
}

function fromJson(value: unknown, modality: InputModality): ParsedBody {
  if (typeof value === 'string' || typeof value === 'number') {
    if (modality !== 'text') throw new InputError('send the file as the raw body, or JSON {"inputs": "<base64>"}');
    return { request: { inputs: String(value), parameters: {}, root: {} }, options: {}, stream: false };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError('The body must be a JSON object such as {"inputs": ..., "parameters": {...}}');
  }
  const { inputs, parameters, options, stream, ...root } = value as Record<string, unknown>;
  if (inputs === undefined || inputs === null) throw new InputError('Missing "inputs" in the JSON body');
  if (parameters !== undefined && (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))) {
    throw new InputError('"parameters" must be a JSON object');
  }
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InputError('"options" must be a JSON object');
  }
  if (stream !== undefined && typeof stream !== 'boolean') throw new InputError('"stream" must be true or false');
  const opts = (options ?? {}) as Record<string, unknown>;
  for (const key of ['wait_for_model', 'use_cache'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw new InputError(`options.${key} must be true or false`);
  }
  return {
    request: { inputs, parameters: (parameters ?? {}) as Record<string, unknown>, root },
    options: { waitForModel: opts.wait_for_model as boolean | undefined, useCache: opts.use_cache as boolean | undefined },
    stream: stream === true,
  };
}

/**
 * Turns a request body into a task request: JSON `{inputs, parameters, options}`, a raw text body for text
 * tasks, or raw image/audio bytes (recognised from their first bytes) for image and audio tasks.
 */
export function parseBody(body: Buffer | undefined, contentType: string | undefined, modality: InputModality, modelId: string): ParsedBody {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!body || body.length === 0) throw new InputError('The request body is empty. Send JSON such as {"inputs": ...}.');

  if (media === 'application/json' || media.endsWith('+json')) return fromJson(parseJson(body.toString('utf8')), modality);

  const kind = sniff(body);
  const declared = media.startsWith('image/') ? 'image' : media.startsWith('audio/') ? 'audio' : undefined;
  if (declared || kind) {
    const got = declared ?? kind!;
    if (got !== modality) {
      throw unsupported(`Model ${modelId} takes ${modality === 'text' ? 'text (JSON {"inputs": "..."})' : `${modality} files`}; the body is ${media || `${got} data`}.`);
    }
    return { request: { inputs: { data: new Uint8Array(body), contentType: contentType }, parameters: {}, root: {} }, options: {}, stream: false };
  }

  const generic = ['', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream'];
  if (!generic.includes(media)) {
    throw unsupported(`Unsupported Content-Type ${media}. Send application/json, plain text, or the raw ${modality === 'text' ? 'text' : `${modality} file`}.`);
  }
  if (modality !== 'text') {
    // Unrecognised bytes go to the runtime, which explains what it could not decode (raw PCM needs its type).
    return { request: { inputs: { data: new Uint8Array(body), contentType }, parameters: {}, root: {} }, options: {}, stream: false };
  }
  const text = body.toString('utf8');
  if (text.includes('\uFFFD')) throw new InputError('The body is not UTF-8 text. Send JSON {"inputs": "..."} or UTF-8 text.');
  // curl -d sends JSON as form data unless told otherwise; accept it when it is a JSON object.
  if (media !== 'text/plain' && text.trimStart().startsWith('{')) return fromJson(parseJson(text), modality);
  return { request: { inputs: text, parameters: {}, root: {} }, options: {}, stream: false };
}

function headerBool(value: string | string[] | undefined): boolean | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new InputError(`Header value "${v}" is not true or false`);
}

/** Merges the header forms (`x-wait-for-model`, `x-use-cache`) under the body's options, which win. */
export function withHeaderOptions(options: RequestOptions, headers: Record<string, string | string[] | undefined>): RequestOptions {
  return {
    waitForModel: options.waitForModel ?? headerBool(headers['x-wait-for-model']),
    useCache: options.useCache ?? headerBool(headers['x-use-cache']),
  };
}
