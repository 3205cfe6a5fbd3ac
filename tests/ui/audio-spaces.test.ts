/**
 * Audio Spaces pages in a real browser: audio-classification shows the labels the API gives, and the microphone
 * records in the browser's own format. Chromium's fake microphone plays the committed espeak-ng clip
 * (--use-file-for-fake-audio-capture), the page sends MediaRecorder's WebM/Opus bytes as they are, with their
 * Content-Type, and the server decodes them: voice activity detection finds the speech in what was sent.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { audioSeconds } from '../../src/auth/media-length.ts';
import { decodeAudio } from '../../src/engine/audio.ts';
import { fixturePath } from '../fixtures/audio/fixtures.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launch([`--use-file-for-fake-audio-capture=${fixturePath('speech-16k-mono.wav')}`])]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(id: string, base = server.url): Promise<Page & { errors: string[] }> {
  const page = (await browser.newPage({ viewport: { width: 1200, height: 900 } })) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  expect((await page.goto(`${base}/spaces/${id}`))?.status()).toBe(200);
  await page.getByRole('heading', { level: 1, name: id }).waitFor();
  return page;
}

/** A loopback proxy in front of the server that keeps the bodies of the POSTs to /models/. */
async function recordingProxy(target: string): Promise<{ url: string; bodies: Uint8Array[]; close(): Promise<void> }> {
  const bodies: Uint8Array[] = [];
  const proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && req.url?.startsWith('/models/')) bodies.push(new Uint8Array(body));
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k))) as Record<string, string>;
    const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, ...(body.length > 0 ? { body } : {}) });
    // fetch has decoded the body: its encoding and length headers no longer apply.
    const out = [...answer.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(k));
    res.writeHead(answer.status, Object.fromEntries(out));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, bodies, close: () => new Promise((resolve) => proxy.close(() => resolve())) };
}

/** Score table rows as [label, score text]. */
async function scoreRows(page: Page): Promise<[string, string][]> {
  const table = page.getByTestId('scores');
  await table.waitFor();
  return table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')!.textContent!.trim(), r.querySelector('td.num')!.textContent!.trim()] as [string, string]));
}

async function api(model: string, body: Uint8Array, type: string): Promise<unknown> {
  const res = await fetch(`${server.url}/models/${model}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': type } });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json();
}

describe('audio Spaces pages', () => {
  test('audio-classification: the example clip gives the labels and scores the API gives', async () => {
    const page = await open('tiny/ast');
    await page.getByLabel('Examples').selectOption({ label: 'Speech' });
    await page.getByRole('button', { name: 'Compute' }).click();
    const wav = new Uint8Array(readFileSync(path.resolve('src/ui/samples/speech.wav')));
    const want = (await api('tiny/ast', wav, 'audio/wav')) as { label: string; score: number }[];
    expect(want).toHaveLength(5);
    await expect.poll(() => scoreRows(page)).toEqual(want.map((r) => [r.label, r.score.toFixed(3)]));
    await page.getByLabel('The classified audio').waitFor({ state: 'attached' });
    const file = screenshotPath('space-tiny-ast');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('the microphone records WebM/Opus, sent as is with its Content-Type; the server hears the speech in it', async () => {
  const proxy = await recordingProxy(server.url);
    const page = await open('tiny/wav2vec2', proxy.url);
    await page.getByRole('button', { name: 'Record from microphone' }).click();
    await page.getByRole('button', { name: 'Stop recording' }).waitFor();
    await page.waitForTimeout(2600);
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.getByLabel(/Selected audio: recording\.webm/).waitFor({ state: 'attached' });
    const sent = page.waitForRequest((r) => r.url() === `${proxy.url}/models/tiny/wav2vec2` && r.method() === 'POST');
    await page.getByRole('button', { name: 'Compute' }).click();
    const request = await sent;
    const type = (await request.allHeaders())['content-type'] ?? '';
    // Playwright does not expose a Blob request body: the recording proxy in front of the server kept it.
    await expect.poll(() => proxy.bodies.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const body = proxy.bodies[0]!;
    expect(body.length).toBeGreaterThan(1000);
    expect(type).toBe('audio/webm;codecs=opus');
    // An EBML (Matroska/WebM) file, as MediaRecorder wrote it, not a WAV made in the page.
    expect(Buffer.from(body.subarray(0, 4)).toString('hex')).toBe('1a45dfa3');
    // Metering reads the recording's exact length: the last block's time plus its packet (Chromium's Duration element
    // is the last block's start, one packet short).
    const decoded = await decodeAudio({ data: body, contentType: type });
    expect(decoded.durationSeconds).toBeGreaterThan(2);
    expect(Math.abs(audioSeconds(body, type)! - decoded.durationSeconds)).toBeLessThan(0.01);
    // The page shows what the API answers for those bytes.
    const want = (await api('tiny/wav2vec2', body, type)) as { label: string; score: number }[];
    await expect.poll(() => scoreRows(page)).toEqual(want.map((r) => [r.label, r.score.toFixed(3)]));
    // What was recorded is the fake microphone's speech clip: voice activity detection finds speech in it.
    const segments = (await api('snakers4/silero-vad', body, type)) as { start: number; end: number }[];
    expect(segments.length).toBeGreaterThan(0);
    expect(Math.max(...segments.map((s) => s.end - s.start))).toBeGreaterThan(0.3);
    expect(page.errors).toEqual([]);
    await page.close();
    await proxy.close();
  });
});
