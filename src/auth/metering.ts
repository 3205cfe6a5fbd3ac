/**
 * What a call's input weighs before it runs, by kind: characters of text, seconds of audio, megapixels of
 * images. Each kind has its own per-minute limit in a tier and its own usage column, so a clip is never
 * charged as characters. A raw body is one file (audio or image by its Content-Type or its first bytes,
 * else text); in a JSON body every string is text except media: `data:` URIs and base64 strings whose bytes
 * are audio or an image. Identifier fields (`model`, `role`, ...) are not the caller's text and are not counted.
 */
import { audioSeconds, imageMegapixels } from './media-length.ts';

export interface Metered {
  characters: number;
  audioSeconds: number;
  megapixels: number;
}

/** Keys whose string values name things rather than carry input text. */
const NOT_TEXT = new Set(['model', 'role', 'type', 'response_format', 'encoding_format', 'user', 'voice', 'tool_choice', 'id', 'tool_call_id']);

/** Shortest string checked for base64 media: shorter ones are text (no audio or image file is this small). */
const MIN_BASE64_MEDIA = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A multipart upload already read into a form (OpenAI's audio routes, src/server/handlers/audio-form.ts): the
 * file part is metered as the file it is, with its own Content-Type; text fields are identifiers and settings.
 */
export interface ParsedUpload {
  file?: { data: Uint8Array; contentType?: string };
  fields: Record<string, unknown>;
}

export function meterBody(body: Uint8Array | ParsedUpload | undefined, contentType?: string): Metered {
  const m: Metered = { characters: 0, audioSeconds: 0, megapixels: 0 };
  if (body && !(body instanceof Uint8Array)) {
    if (body.file) meterFile(body.file.data, (body.file.contentType ?? '').split(';')[0]!.trim().toLowerCase(), m, body.file.contentType);
    return m;
  }
  if (!body || body.length === 0) return m;
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json') || looksLikeJson(body, type)) {
    const text = decodeText(body);
    if (text !== undefined) {
      try {
        walk(JSON.parse(text), '', m);
        return m;
      } catch {
        // Not JSON after all: the handler answers 400; meter it as the text it is.
        m.characters = text.length;
        return m;
      }
    }
  }
  if (type.startsWith('text/')) {
    m.characters = (decodeText(body) ?? '').length;
    return m;
  }
  meterFile(body, type, m, contentType);
  if (m.audioSeconds === 0 && m.megapixels === 0 && !type.startsWith('audio/') && !type.startsWith('image/')) {
    m.characters = decodeText(body)?.length ?? 0;
  }
  return m;
}

function looksLikeJson(body: Uint8Array, type: string): boolean {
  if (type.startsWith('audio/') || type.startsWith('image/')) return false;
  for (const byte of body.subarray(0, 64)) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b || byte === 0x5b || byte === 0x22; // { [ "
  }
  return false;
}

function decodeText(body: Uint8Array): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** One file: audio if its header says so (or the Content-Type names raw PCM), else an image if it is one. */
function meterFile(bytes: Uint8Array, type: string, m: Metered, contentType?: string): boolean {
  if (!type.startsWith('image/')) {
    const seconds = audioSeconds(bytes, contentType);
    if (seconds !== undefined) {
      m.audioSeconds += seconds;
      return true;
    }
  }
  if (!type.startsWith('audio/')) {
    const mp = imageMegapixels(bytes);
    if (mp !== undefined) {
      m.megapixels += mp;
      return true;
    }
  }
  return false;
}

function walk(value: unknown, key: string, m: Metered): void {
  if (typeof value === 'string') {
    if (!NOT_TEXT.has(key) && !meterEncodedMedia(value, m)) m.characters += value.length;
  } else if (Array.isArray(value)) {
    for (const v of value) walk(v, key, m);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) walk(v, k, m);
  }
}

/** A `data:` URI or a base64 string of audio or an image: metered as media, true; anything else, false. */
function meterEncodedMedia(s: string, m: Metered): boolean {
  if (s.startsWith('data:')) {
    const comma = s.indexOf(',');
    const header = s.slice(5, comma);
    if (comma < 0 || !header.endsWith(';base64')) return false;
    const bytes = Buffer.from(s.slice(comma + 1), 'base64');
    // A data URI is never the caller's prose, even when its bytes are of no kind metered here.
    meterFile(bytes, header.split(';')[0]!.toLowerCase(), m, header.replace(/;base64$/, ''));
    return true;
  }
  if (s.length < MIN_BASE64_MEDIA || !BASE64.test(s.slice(0, MIN_BASE64_MEDIA))) return false;
  // Decode a little first: most long strings are text, and only media is worth decoding whole.
  const head = Buffer.from(s.slice(0, 64), 'base64');
  if (!isMediaHead(head)) return false;
  return meterFile(Buffer.from(s, 'base64'), '', m);
}

/** The first bytes are a known audio or image header. */
function isMediaHead(b: Uint8Array): boolean {
  const tag = String.fromCharCode(...b.subarray(0, 12));
  return (
    /^(RIFF|RF64|fLaC|OggS|ID3|GIF8|BM)/.test(tag) ||
    tag.slice(1, 4) === 'PNG' ||
    tag.slice(4, 8) === 'ftyp' ||
    (b[0] === 0xff && ((b[1] ?? 0) & 0xe0) === 0xe0) ||
    (b[0] === 0xff && b[1] === 0xd8) ||
    (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3)
  );
}
