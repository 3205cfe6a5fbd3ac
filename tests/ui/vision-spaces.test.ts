/**
 * The vision tasks' Spaces pages in a real browser: the sample image is run and the answer is drawn — boxes over
 * the image (object-detection), masks as coloured overlays (image-segmentation), the depth map beside the image,
 * label scores (zero-shot), the caption (image-to-text) — each matching what the HTTP API answers for the same
 * image. Screenshots go to test-results/space-vision-*.png.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let server: TestServer;
let browser: Browser;
const SAMPLE = readFileSync(path.resolve('src/ui/samples/image.png'));

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function api(id: string, body: unknown = SAMPLE): Promise<unknown> {
  if (body === SAMPLE) return (await fetch(`${server.url}/models/${id}`, { method: 'POST', body: SAMPLE, headers: { 'content-type': 'image/png' } })).json();
  return (await postJson(`${server.url}/models/${id}`, body)).json;
}

/** Opens a model's page, runs the sample image (after `prepare` fills the form) and waits for the answer. */
async function run(id: string, prepare?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors?: string[] }).errors = errors;
  expect((await page.goto(`${server.url}/spaces/${id}`))?.status()).toBe(200);
  await page.getByRole('heading', { level: 1, name: id }).waitFor();
  await page.getByLabel('Examples').selectOption({ label: 'Sample image' });
  await page.getByRole('img', { name: /Selected image/ }).waitFor({ state: 'visible' });
  await prepare?.(page);
  await page.getByRole('button', { name: 'Compute' }).click();
  await page.getByTestId('compute-time').waitFor();
  return page;
}

async function finish(page: Page, name: string): Promise<string> {
  const file = screenshotPath(`space-vision-${name}`);
  await page.screenshot({ path: file, fullPage: true });
  expectNotBlank(file);
  expect((page as Page & { errors?: string[] }).errors).toEqual([]);
  await page.close();
  return file;
}

/** A screenshot of one element, decoded: how many of its pixels are close to a colour. */
async function pixelsNear(page: Page, selector: string, rgb: [number, number, number], tolerance = 60): Promise<number> {
  const png = PNG.sync.read(await page.locator(selector).first().screenshot());
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    if (Math.abs(png.data[i]! - rgb[0]) + Math.abs(png.data[i + 1]! - rgb[1]) + Math.abs(png.data[i + 2]! - rgb[2]) < tolerance) n++;
  }
  return n;
}

describe('vision Spaces pages draw their answers', () => {
  test('object-detection: a box and label over the image for every detection the API gives', async () => {
    // The tiny detector is confident about nothing in the sample at the default 0.9: the page's threshold field.
    expect(await api('tiny/yolos')).toEqual([]);
    const want = (await api('tiny/yolos', { inputs: SAMPLE.toString('base64'), parameters: { threshold: 0.3 } })) as { label: string; box: Record<string, number> }[];
    expect(want.length).toBeGreaterThan(0);
    const page = await run('tiny/yolos', (p) => p.getByLabel(/Threshold/).fill('0.3'));
    const boxes = page.getByTestId('boxes');
    await boxes.locator('svg.drawn').waitFor();
    expect(await boxes.locator('svg rect.box').count()).toBe(want.length);
    expect(await boxes.locator('svg text').allTextContents()).toEqual(want.map((d) => d.label));
    for (const [i, d] of want.entries()) {
      const rect = boxes.locator('svg rect.box').nth(i);
      expect(Number(await rect.getAttribute('x'))).toBe(d.box.xmin);
      expect(Number(await rect.getAttribute('y'))).toBe(d.box.ymin);
    }
    expect(await boxes.locator('tbody tr').count()).toBe(want.length);
    await finish(page, 'yolos');
  });

  test('image-segmentation: one coloured overlay per segment, each masked by the API\'s PNG; a segment can be hidden', async () => {
    const want = (await api('tiny/segformer')) as { label: string; mask: string }[];
    expect(want.length).toBeGreaterThan(1);
    const page = await run('tiny/segformer');
    const masks = page.getByTestId('masks');
    await masks.locator('svg.drawn').waitFor();
    expect(await masks.locator('svg rect[data-label]').evaluateAll((r) => r.map((e) => e.getAttribute('data-label')))).toEqual(want.map((s) => s.label));
    expect(await masks.locator('svg mask image').evaluateAll((r) => r.map((e) => e.getAttribute('href')))).toEqual(want.map((s) => `data:image/png;base64,${s.mask}`));
    // The overlay changes the drawing: hiding every segment gives a different picture than showing them.
    const shown = await masks.locator('svg.drawn').screenshot();
    for (const box of await masks.getByRole('checkbox').all()) await box.uncheck();
    expect(await masks.locator('svg rect[data-label]').count()).toBe(0);
    const bare = await masks.locator('svg.drawn').screenshot();
    expect(Buffer.compare(shown, bare)).not.toBe(0);
    for (const box of await masks.getByRole('checkbox').all()) await box.check();
    expect(await masks.locator('svg rect[data-label]').count()).toBe(want.length);
    await finish(page, 'segformer');
  });

  test('depth-estimation: the depth map beside the image, the API\'s PNG', async () => {
    const want = (await api('tiny/dpt')) as { depth: string };
    const page = await run('tiny/dpt');
    const depth = page.getByTestId('depth');
    await depth.getByRole('img', { name: /depth map/ }).waitFor();
    expect(await depth.getByRole('img', { name: /depth map/ }).getAttribute('src')).toBe(`data:image/png;base64,${want.depth}`);
    expect(await depth.getByRole('img', { name: 'The image sent' }).count()).toBe(1);
    // Greyscale depth shows as grey pixels in the page (not a broken image).
    expect(await pixelsNear(page, '[data-testid="depth"] figure:nth-child(2) img', [128, 128, 128], 120)).toBeGreaterThan(100);
    await finish(page, 'dpt');
  });

  test('zero-shot-image-classification: the labels typed are scored as the API scores them', async () => {
    const labels = 'cat, dog, car, landscape';
    const want = (await api('tiny/clip', { inputs: { image: SAMPLE.toString('base64') }, parameters: { candidate_labels: labels } })) as { label: string; score: number }[];
    const p = await run('tiny/clip');
    const rows = await p.getByTestId('scores').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')!.textContent!.trim(), tr.querySelector('td.num')!.textContent!.trim()]));
    expect(rows).toEqual(want.map((r) => [r.label, r.score.toFixed(3)]));
    await finish(p, 'clip');
  });

  test('image-feature-extraction: the first token\'s vector the API gives', async () => {
    const want = (await api('tiny/vit-features')) as number[][][];
    const page = await run('tiny/vit-features');
    const vector = page.getByTestId('vector');
    await expect.poll(() => vector.locator('strong').first().textContent()).toBe(String(want[0]![0]!.length));
    const first = await vector.locator('tbody tr').first().locator('td.num').textContent();
    expect(Number(first)).toBeCloseTo(want[0]![0]![0]!, 2);
    await finish(page, 'vit-features');
  });

  test('image-to-text: the caption the API gives', async () => {
    const want = (await api('tiny/vit-gpt2')) as { generated_text: string };
    const page = await run('tiny/vit-gpt2');
    await expect.poll(() => page.getByTestId('caption').textContent()).toBe(want.generated_text);
    await finish(page, 'vit-gpt2');
  });
});
