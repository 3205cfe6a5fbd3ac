/**
 * Issue 13, scopes 2 and 3, against a real server: the owner of a fresh loopback server is never limited
 * (built-in tiers, no token), and a token's tier meters text in characters and audio in seconds, refusing a
 * request that alone exceeds a per-minute limit with a 413 rather than a 429.
 */
import { InferenceClient } from '@huggingface/inference';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose, type Composed } from '../../src/compose.ts';
import { loadConfig } from '../../src/config.ts';
import { speechSamples, SPEECH_RATE, wavBytes } from '../fixtures/audio/fixtures.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { postJson } from '../helpers/server.ts';

const VAD = 'snakers4/silero-vad';
const TEXT_MODEL = 'tiny/bert-sentiment';

/** A clip of `seconds`: the speech clip repeated, so the VAD finds speech throughout. */
function clip(seconds: number): Uint8Array {
  const speech = speechSamples();
  const out = new Float32Array(Math.round(seconds * SPEECH_RATE));
  for (let i = 0; i < out.length; i++) out[i] = speech[i % speech.length]!;
  return wavBytes([out], SPEECH_RATE);
}

async function start(tiers?: unknown[]): Promise<{ url: string; composed: Composed }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mh-metering-'));
  const config = loadConfig({ modelsDir: TEST_MODELS_DIR, port: 0, dataDir, waitForModelByDefault: true, logLevel: 'silent' }, {});
  // No `tiers` given: the built-in ones, exactly as `npm start` has them.
  const composed = await compose(config, { logger: false, ...(tiers ? { tiers: tiers as never } : {}) });
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(composed.app.server.address() as { port: number }).port}`, composed };
}

const postAudio = (url: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${url}/models/${VAD}`, { method: 'POST', headers: { 'content-type': 'audio/wav', ...headers }, body: Buffer.from(body) });

describe('the owner of a fresh loopback server, on the built-in tiers', () => {
  let server: { url: string; composed: Composed };
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server.composed.close());

  it('answers 200 calls in a minute and 16 concurrent @huggingface/inference calls, all 200', async () => {
    const statuses: number[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postJson(`${server.url}/models/${TEXT_MODEL}`, { inputs: `call ${batch} ${i}` })));
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(200);

    const client = new InferenceClient('hf_anything');
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => client.textClassification({ endpointUrl: `${server.url}/models/${TEXT_MODEL}`, inputs: `concurrent call ${i}` })),
    );
    for (const a of answers) expect(a[0]).toHaveProperty('label');
  });

  it('finds speech segments in a 30 s WAV (no characters limit applies to audio)', async () => {
    const res = await postAudio(server.url, clip(30));
    expect(res.status).toBe(200);
    const segments = (await res.json()) as { start: number; end: number }[];
    expect(segments.length).toBeGreaterThan(5);
    expect(segments.at(-1)!.end).toBeGreaterThan(25);
  });
});

describe('a tier that meters characters and audio seconds', () => {
  let server: { url: string; composed: Composed };
  let auth: Record<string, string>;
  let adminAuth: Record<string, string>;
  beforeAll(async () => {
    server = await start([{ name: 'anonymous' }, { name: 'free' }, { name: 'metered', charactersPerMinute: 1000, audioSecondsPerMinute: 20 }]);
    // The first token is made by the owner (loopback, none exists yet); from then on every call needs one.
    const admin = await postJson(`${server.url}/api/tokens`, { name: 'admin', scopes: ['inference', 'admin'], tier: 'free' });
    const metered = await postJson(`${server.url}/api/tokens`, { name: 'metered', scopes: ['inference'], tier: 'metered' }, { authorization: `Bearer ${admin.json.token}` });
    expect(metered.status).toBe(201);
    auth = { authorization: `Bearer ${metered.json.token}` };
    adminAuth = { authorization: `Bearer ${admin.json.token}` };
  });
  afterAll(() => server.composed.close());

  it('refuses a 2,000-character text with a 413 naming both numbers, and no Retry-After', async () => {
    const res = await postJson(`${server.url}/models/${TEXT_MODEL}`, { inputs: 'x'.repeat(2000) }, auth);
    expect(res.status).toBe(413);
    expect(res.json.error).toMatch(/2000 characters/);
    expect(res.json.error).toMatch(/1000 characters per minute/);
    expect(res.headers.get('retry-after')).toBeNull();
    const ok = await postJson(`${server.url}/models/${TEXT_MODEL}`, { inputs: 'y'.repeat(600) }, auth);
    expect(ok.status).toBe(200);
  });

  it('admits a 10 s clip twice, then 429 with Retry-After; a 30 s clip is 413', async () => {
    const ten = clip(10);
    expect((await postAudio(server.url, ten, auth)).status).toBe(200);
    expect((await postAudio(server.url, ten, auth)).status).toBe(200);
    const third = await postAudio(server.url, ten, auth);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await third.json()) as { error: string }).error).toMatch(/20 audio seconds per minute/);

    const thirty = await postAudio(server.url, clip(30), auth);
    expect(thirty.status).toBe(413);
    expect(thirty.headers.get('retry-after')).toBeNull();
    const error = ((await thirty.json()) as { error: string }).error;
    expect(error).toMatch(/30 seconds of audio/);
    expect(error).toMatch(/20 audio seconds per minute/);
  });

  it('records characters and audio seconds in their own usage columns', async () => {
    const res = await fetch(`${server.url}/api/usage?by=model`, { headers: adminAuth });
    const { rows } = (await res.json()) as { rows: { model: string; characters: number; audioSeconds: number }[] };
    const text = rows.find((r) => r.model === TEXT_MODEL)!;
    const audio = rows.find((r) => r.model === VAD)!;
    // Only what was served counts: the refused calls took nothing.
    expect(text.characters).toBe(600);
    expect(text.audioSeconds).toBe(0);
    expect(audio.audioSeconds).toBeCloseTo(20, 3);
    expect(audio.characters).toBe(0);
  });
});
