/**
 * Shared by the vision task tests: deterministic pictures in several formats, raw-body posts, and the malformed
 * requests every image task must refuse with a 4xx naming the problem.
 */
import sharp from 'sharp';
import { expect } from 'vitest';
import { fixtureBytes } from '../fixtures/audio/fixtures.ts';
import { postBytes, postJson } from '../helpers/server.ts';

export type Bytes = Uint8Array<ArrayBuffer>;

/** A deterministic picture: stripes and a gradient that differ with `seed`. */
function pixels(width: number, height: number, channels: 1 | 3 | 4, seed: number): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const i = (y * width + x) * channels + c;
        data[i] = c === 3 ? 128 + ((x * seed) % 128) : (x * (seed + c) * 7 + y * (seed * 3 + 1) * 5 + ((x ^ y) & seed) * 13) & 255;
      }
    }
  }
  return data;
}

export function picture(width: number, height: number, channels: 1 | 3 | 4, seed: number) {
  return sharp(pixels(width, height, channels, seed), { raw: { width, height, channels } });
}

export async function png(width: number, height: number, seed: number, channels: 1 | 3 | 4 = 3): Promise<Bytes> {
  return new Uint8Array(await picture(width, height, channels, seed).png().toBuffer());
}

export interface ImageFile {
  name: string;
  bytes: Bytes;
  type: string;
}

/** Five pictures of different sizes, channel counts and formats. */
export async function imageFiles(): Promise<ImageFile[]> {
  const u8 = (b: Buffer): Bytes => new Uint8Array(b);
  return [
    { name: 'png 32x32 rgb', bytes: u8(await picture(32, 32, 3, 1).png().toBuffer()), type: 'image/png' },
    { name: 'png 120x80 rgba', bytes: u8(await picture(120, 80, 4, 2).png().toBuffer()), type: 'image/png' },
    { name: 'png 50x70 grey', bytes: u8(await picture(50, 70, 1, 3).png().toBuffer()), type: 'image/png' },
    { name: 'jpeg 64x48', bytes: u8(await picture(64, 48, 3, 4).jpeg({ quality: 90 }).toBuffer()), type: 'image/jpeg' },
    { name: 'webp 40x40', bytes: u8(await picture(40, 40, 3, 5).webp({ lossless: true }).toBuffer()), type: 'image/webp' },
  ];
}

export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export { postBytes };

/** A raw body (bytes or text) with its Content-Type, or a JSON body; and what the answer's error must say. */
export type Malformed = { raw: Bytes | string; type?: string; status: number; error: RegExp } | { json: unknown; status?: number; error: RegExp };

/**
 * Requests any image task refuses: undecodable, empty, wrong kind, wrong JSON shape. A task with required parameters
 * gives them (`parameters`, added to JSON bodies that have none) and says what its raw bodies, which cannot carry
 * parameters, are refused for (`rawError`, in place of "could not be decoded").
 */
export function imageInputCases(image: Bytes, opts: { parameters?: Record<string, unknown>; rawError?: RegExp } = {}): Malformed[] {
  const random = Uint8Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) & 255);
  const wav = new Uint8Array(fixtureBytes('speech-16k-mono.wav'));
  const text = (s: string) => Buffer.from(s).toString('base64');
  const cases: Malformed[] = [
    { raw: image.slice(0, 100), type: 'image/png', status: 400, error: /could not be decoded/ },
    { raw: image.slice(0, 100), status: 400, error: /could not be decoded/ },
    { raw: random, type: 'image/png', status: 400, error: /could not be decoded/ },
    { raw: random, type: 'application/octet-stream', status: 400, error: /could not be decoded/ },
    { raw: wav, type: 'audio/wav', status: 415, error: /image files/ },
    { raw: wav, status: 415, error: /image files/ },
    { raw: image, type: 'audio/wav', status: 415, error: /image files/ },
    { raw: 'hello, not an image', type: 'text/plain', status: 400, error: /could not be decoded/ },
    { raw: '<svg/>', type: 'application/xml', status: 415, error: /Content-Type/ },
    { raw: '', type: 'image/png', status: 400, error: /empty/ },
    { raw: '', status: 400, error: /empty/ },
    { raw: '{"inputs": ', type: 'application/json', status: 400, error: /not valid JSON/ },
    { json: {}, error: /Missing "inputs"/ },
    { json: { inputs: null }, error: /Missing "inputs"/ },
    { json: { inputs: '' }, error: /base64/ },
    { json: { inputs: 'not base64 at all!' }, error: /base64/ },
    { json: { inputs: text('just some text, not a picture') }, error: /could not be decoded/ },
    { json: { inputs: 42 }, error: /inputs/ },
    { json: { inputs: true }, error: /inputs/ },
    { json: { inputs: [b64(image)] }, error: /inputs/ },
    { json: { inputs: { picture: b64(image) } }, error: /inputs/ },
    { json: { inputs: { image: 'not base64!' } }, error: /inputs\.image.*base64/ },
    { json: { inputs: { image: 12 } }, error: /inputs/ },
    { json: { inputs: b64(image), parameters: 'none' }, error: /"parameters" must be a JSON object/ },
    { json: { inputs: b64(image), parameters: [1] }, error: /"parameters" must be a JSON object/ },
    { json: { inputs: b64(image), options: 3 }, error: /"options" must be a JSON object/ },
    { json: { inputs: b64(image), options: { use_cache: 'no' } }, error: /use_cache/ },
    { json: { inputs: b64(image), stream: true }, error: /stream.*text-generation/ },
    { json: { inputs: b64(image), stream: 'yes' }, error: /"stream" must be true or false/ },
    { json: 'just a string', error: /raw body|base64/ },
    { json: [b64(image)], error: /JSON object/ },
  ];
  return cases.map((c) => {
    if ('raw' in c) return opts.rawError && /could not be decoded/.test(String(c.error)) ? { ...c, error: opts.rawError } : c;
    const body = c.json;
    if (!opts.parameters || !body || typeof body !== 'object' || Array.isArray(body) || 'parameters' in body || !('inputs' in body)) return c;
    return { ...c, json: { ...body, parameters: opts.parameters } };
  });
}

/** Sends every case and checks its status, JSON content type and error message. */
export async function expectRefused(url: string, cases: Malformed[]): Promise<void> {
  for (const c of cases) {
    const res = 'json' in c ? await postJson(url, c.json) : await postBytes(url, c.raw as Bytes, c.type);
    const what = 'json' in c ? JSON.stringify(c.json).slice(0, 100) : `${c.type ?? '(no type)'} raw body`;
    expect(res.status, `${what}: ${res.text}`).toBe(c.status ?? 400);
    expect(res.headers.get('content-type'), what).toMatch(/^application\/json/);
    const error = (res.json as { error?: unknown }).error;
    expect(typeof error, what).toBe('string');
    expect(error, what).toMatch(c.error);
    expect(error, what).not.toMatch(/\n\s+at /);
  }
}
