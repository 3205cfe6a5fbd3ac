/**
 * The text-to-speech Spaces page in a real browser: the example text is run, the answer's audio element gets a
 * playable source (Chromium loads it: duration and bytes equal the HTTP API's answer for the same text, and it plays),
 * and the snippets show how to call it. Screenshot: test-results/space-text-to-speech.png.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';
import { decodeWav } from '../audio/speech-helpers.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

const MODEL = 'tiny/vits';
const TEXT = 'Hello! This is modelhost speaking.';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  // Played without a click on the player: the page's own Compute click is the gesture, but play() here comes later.
  [server, browser] = await Promise.all([startServer(), launch(['--autoplay-policy=no-user-gesture-required'])]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('text-to-speech Space page', () => {
  test('runs the example and plays the audio the API answers for the same text', async () => {
    const api = await fetch(`${server.url}/models/${MODEL}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: TEXT }) });
    expect(api.status).toBe(200);
    const apiBytes = new Uint8Array(await api.arrayBuffer());
    const { samples, rate } = decodeWav(apiBytes);

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    expect((await page.goto(`${server.url}/spaces/${MODEL}`))?.status()).toBe(200);
    await page.getByRole('heading', { level: 1, name: MODEL }).waitFor();
    await page.getByLabel('Examples').selectOption({ label: 'Greeting' });
    await expect.poll(() => page.getByLabel('Text').inputValue()).toBe(TEXT);
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.getByTestId('compute-time').waitFor();

    const audio = page.getByTestId('speech-audio');
    await audio.waitFor();
    // The source is the answer's bytes (an object URL) and Chromium reads it as audio of the answer's length.
    const loaded = await audio.evaluate(async (el: HTMLAudioElement) => {
      if (el.readyState < 1) await new Promise((resolve, reject) => ((el.onloadedmetadata = resolve), (el.onerror = () => reject(new Error(`media error ${el.error?.code}`)))));
      return { src: el.src, duration: el.duration, error: el.error?.code ?? null };
    });
    expect(loaded.src).toMatch(/^blob:/);
    expect(loaded.error).toBeNull();
    expect(loaded.duration).toBeCloseTo(samples.length / rate, 2);
    // It plays: time advances and no media error is raised.
    const played = await audio.evaluate(async (el: HTMLAudioElement) => {
      el.muted = true;
      await el.play();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const at = el.currentTime;
      el.pause();
      return { at, error: el.error?.code ?? null };
    });
    expect(played.error).toBeNull();
    expect(played.at).toBeGreaterThan(0);
    // The page's CSP keeps fetch() off blob: URLs, so the size it states stands in for the bytes it holds.
    expect(await page.getByTestId('speech').textContent()).toContain(`${(apiBytes.length / 1024).toFixed(1)} KB audio/wav`);
    await expect(page.getByRole('link', { name: 'Download' }).getAttribute('download')).resolves.toBe('speech.wav');

    const file = screenshotPath('space-text-to-speech');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);
    expect(errors).toEqual([]);
    await page.close();
  });
});
