/**
 * Spaces pages in a real browser (Debian's chromium through playwright-core): every task's page loads, an
 * example is picked and run, and the page shows what the HTTP API answers for the same input; a cold model
 * shows the loading state then the answer; a bad input shows the server's error; each page's screenshot is
 * written under test-results/ and is not blank; an image page works at phone width.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function open(id: string, query = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Offline and private: the page asks nothing of any other origin (no fonts, scripts, CDNs, analytics).
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !/^(data|blob):/.test(r.url())) errors.push(`request to another origin: ${r.url()}`);
  });
  (page as Page & { errors?: string[] }).errors = errors;
  const res = await page.goto(`${server.url}/spaces/${id}${query}`);
  expect(res?.status()).toBe(200);
  await page.getByRole('heading', { level: 1, name: id }).waitFor();
  return page;
}

async function pickExample(page: Page, title: string) {
  await page.getByLabel('Examples').selectOption({ label: title });
}

async function compute(page: Page) {
  await page.getByRole('button', { name: /^(Compute|Send)$/ }).click();
}

async function finish(page: Page, name: string) {
  await page.getByTestId('compute-time').waitFor();
  const file = screenshotPath(`space-${name}`);
  await page.screenshot({ path: file, fullPage: true });
  expectNotBlank(file);
  expect((page as Page & { errors?: string[] }).errors).toEqual([]);
  await page.close();
}

/** Score table rows as [label, score text]. */
async function scoreRows(page: Page): Promise<[string, string][]> {
  const table = page.getByTestId('scores');
  await table.waitFor();
  return table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')!.textContent!.trim(), r.querySelector('td.num')!.textContent!.trim()] as [string, string]));
}

describe('Spaces pages', () => {
  test('the gallery lists every hosted model with its task and filters by task', async () => {
    const models = (await (await fetch(`${server.url}/api/models`)).json()) as { id: string }[];
    const page = await browser.newPage();
    await page.goto(`${server.url}/spaces`);
    const links = await page.locator('.cards h2 a').allTextContents();
    expect(links.sort()).toEqual(models.map((m) => m.id).sort());
    await page.getByLabel('Task').selectOption('image-classification');
    await expect.poll(() => page.locator('.cards h2 a').allTextContents()).toEqual(['tiny/vit']);
    await expect.poll(() => page.url()).toContain('task=image-classification');
    const file = screenshotPath('spaces-gallery');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);
    await page.close();
  });

  test('text-classification: an example gives the scores the API gives', async () => {
    const page = await open('tiny/bert-sentiment');
    await pickExample(page, 'Positive');
    await expect.poll(() => page.getByLabel('Text').inputValue()).toBe('I like you. I love you.');
    await compute(page);
    const rows = await scoreRows(page);
    const api = (await postJson(`${server.url}/models/tiny/bert-sentiment`, { inputs: 'I like you. I love you.' })).json[0] as { label: string; score: number }[];
    expect(rows).toEqual(api.map((r) => [r.label, r.score.toFixed(3)]));
    expect(page.url()).toContain('text=I+like+you');
    await finish(page, 'bert-sentiment');
  });

  test('text-classification (fastText language id): French is recognised', async () => {
    const page = await open('facebook/fasttext-lid-176');
    await pickExample(page, 'French');
    await compute(page);
    const rows = await scoreRows(page);
    expect(rows[0]![0]).toBe('fr');
    await finish(page, 'fasttext');
  });

  test('token-classification: entities are highlighted with text badges', async () => {
    const page = await open('tiny/bert-ner');
    await pickExample(page, 'People and places');
    await compute(page);
    await page.getByTestId('entities').waitFor();
    const marks = await page.locator('[data-testid=entities] mark').evaluateAll((ms) => ms.map((m) => ({ text: m.firstChild!.textContent, badge: m.querySelector('.badge')!.textContent })));
    const api = (await postJson(`${server.url}/models/tiny/bert-ner`, { inputs: 'My name is Sarah and I live in London' })).json as { entity_group: string; start: number; end: number }[];
    const text = 'My name is Sarah and I live in London';
    expect(marks).toEqual(api.map((e) => ({ text: text.slice(e.start, e.end), badge: e.entity_group })));
    await page.getByLabel('Show as a table').check();
    await expect.poll(() => page.getByRole('table', { name: 'Entities' }).locator('tbody tr').count()).toBe(api.length);
    await finish(page, 'bert-ner');
  });

  test('zero-shot-classification: labels field and checkbox feed the request', async () => {
    const page = await open('tiny/bert-nli');
    await pickExample(page, 'Support ticket');
    expect(await page.getByLabel('Allow multiple true classes').isChecked()).toBe(true);
    await compute(page);
    const rows = await scoreRows(page);
    const api = (await postJson(`${server.url}/models/tiny/bert-nli`, { inputs: 'I have a problem with my iphone that needs to be resolved asap!!', parameters: { candidate_labels: 'urgent, not urgent, phone, tablet, computer', multi_label: true } })).json as { labels: string[]; scores: number[] };
    expect(rows).toEqual(api.labels.map((l, i) => [l, api.scores[i]!.toFixed(3)]));
    await finish(page, 'bert-nli');
  });

  test('fill-mask: the best sentence and the token scores; a text without the mask shows the server error', async () => {
    const page = await open('tiny/bert-mlm');
    await pickExample(page, 'Capital');
    await compute(page);
    const api = (await postJson(`${server.url}/models/tiny/bert-mlm`, { inputs: 'Paris is the [MASK] of France.' })).json as { sequence: string; token_str: string }[];
    await expect.poll(() => page.getByTestId('filled').textContent()).toContain(api[0]!.sequence);
    expect((await scoreRows(page)).map((r) => r[0])).toEqual(api.map((r) => r.token_str));
    await page.getByLabel('Text').fill('There is no mask here.');
    await compute(page);
    const serverError = (await postJson(`${server.url}/models/tiny/bert-mlm`, { inputs: 'There is no mask here.' })).json.error as string;
    expect(serverError).toMatch(/mask/);
    await expect.poll(() => page.getByTestId('error').textContent()).toBe(serverError);
    await page.screenshot({ path: screenshotPath('space-bert-mlm-error'), fullPage: true });
    await pickExample(page, 'Capital');
    await compute(page);
    await finish(page, 'bert-mlm');
  });

  test('question-answering: the answer is highlighted inside the context', async () => {
    const page = await open('tiny/bert-qa');
    await pickExample(page, 'Where');
    await compute(page);
    const api = (await postJson(`${server.url}/models/tiny/bert-qa`, { inputs: { question: 'Where do I live?', context: 'My name is Wolfgang and I live in Berlin' } })).json as { start: number; end: number; answer: string };
    await expect.poll(() => page.locator('mark.hl').textContent()).toBe('My name is Wolfgang and I live in Berlin'.slice(api.start, api.end));
    await expect.poll(() => page.getByTestId('answer').textContent()).toContain(api.answer);
    await finish(page, 'bert-qa');
  });

  test('feature-extraction and sentence-similarity on one embedding model', async () => {
    const page = await open('tiny/minilm-embed');
    await pickExample(page, 'Sentence');
    await compute(page);
    const vector = (await postJson(`${server.url}/models/tiny/minilm-embed`, { inputs: 'Today is a sunny day and I will get some ice cream.' })).json as number[];
    await expect.poll(() => page.getByTestId('vector').textContent()).toContain(`A vector of ${vector.length} values`);
    await expect.poll(() => page.getByRole('table', { name: /First 16 values/ }).locator('tbody tr').first().textContent()).toContain(vector[0]!.toFixed(4));
    await page.getByLabel('Task').selectOption('sentence-similarity');
    await page.getByLabel('Source sentence').fill('That is a happy person');
    await page.getByLabel('Sentence 1', { exact: true }).fill('That is a happy dog');
    await page.getByLabel('Sentence 2', { exact: true }).fill('Today is a sunny day');
    await compute(page);
    const sims = (await postJson(`${server.url}/models/tiny/minilm-embed`, { inputs: { source_sentence: 'That is a happy person', sentences: ['That is a happy dog', 'Today is a sunny day'] } })).json as number[];
    expect(await scoreRows(page)).toEqual([
      ['That is a happy dog', sims[0]!.toFixed(3)],
      ['Today is a sunny day', sims[1]!.toFixed(3)],
    ]);
    expect(page.url()).toContain('task=sentence-similarity');
    await finish(page, 'minilm-embed');
  });

  test('text-generation streams the continuation the API generates', async () => {
    const page = await open('tiny/gpt2');
    await pickExample(page, 'Story');
    await page.getByText('Parameters').click();
    await page.getByLabel('Max new tokens').fill('12');
    await compute(page);
    await page.getByTestId('compute-time').waitFor();
    const api = (await postJson(`${server.url}/models/tiny/gpt2`, { inputs: 'Once upon a time,', parameters: { max_new_tokens: 12 } })).json as { generated_text: string }[];
    const shown = await page.getByTestId('generation').textContent();
    expect(shown).toBe(api[0]!.generated_text);
    expect(await page.locator('.gen').textContent()).toBe(api[0]!.generated_text.slice('Once upon a time,'.length));
    await finish(page, 'gpt2');
  });

  test('image-classification: the sample image is classified as the API classifies it', async () => {
    const page = await open('tiny/vit');
    await pickExample(page, 'Sample image');
    await page.getByRole('img', { name: /Selected image/ }).waitFor({ state: 'visible' });
    await compute(page);
    const rows = await scoreRows(page);
    const png = readFileSync(path.resolve('src/ui/samples/image.png'));
    const api = (await (await fetch(`${server.url}/models/tiny/vit`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } })).json()) as { label: string; score: number }[];
    expect(rows).toEqual(api.map((r) => [r.label, r.score.toFixed(3)]));
    await finish(page, 'vit');
  });

  test('voice-activity-detection: speech segments on a timeline and in a table; recording from the (fake) microphone', async () => {
    const page = await open('snakers4/silero-vad');
    await pickExample(page, 'Speech with a pause');
    await compute(page);
    const wav = readFileSync(path.resolve('src/ui/samples/speech.wav'));
    const api = (await (await fetch(`${server.url}/models/snakers4/silero-vad`, { method: 'POST', body: wav, headers: { 'content-type': 'audio/wav' } })).json()) as { start: number; end: number }[];
    const rows = page.getByRole('table', { name: 'Speech segments' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(api.length);
    await expect.poll(() => rows.first().textContent()).toContain(api[0]!.start.toFixed(2));
    await expect.poll(() => page.locator('.timeline .seg').count()).toBe(api.length);
    await page.screenshot({ path: screenshotPath('space-silero-vad'), fullPage: true });
    expectNotBlank(screenshotPath('space-silero-vad'));
    // Record one second from Chromium's fake microphone: the page sends the recorder's WebM/Opus, which the server decodes.
    await page.getByRole('button', { name: 'Record from microphone' }).click();
    await page.waitForTimeout(1200);
    await page.getByRole('button', { name: 'Stop recording' }).click();
    await page.getByLabel(/Selected audio: recording\.webm/).waitFor({ state: 'attached' });
    await compute(page);
    await page.getByTestId('segments').waitFor({ state: 'visible' });
    await expect.poll(() => page.getByTestId('error').count()).toBe(0);
    await finish(page, 'silero-vad-recorded');
  });

  test('use via API: snippets carry the real base URL', async () => {
    const page = await open('tiny/bert-sentiment', '?view=api');
    const code = await page.locator('.code pre').allTextContents();
    expect(code.length).toBeGreaterThanOrEqual(4);
    expect(code.join('\n')).toContain(`${server.url}/models/tiny/bert-sentiment`);
    expect(code.join('\n')).toContain(`Client.connect('${server.url}/spaces/tiny/bert-sentiment'`);
    expect(code.join('\n')).toContain('@huggingface/inference');
    expect(code.join('\n')).toContain('<iframe src="' + server.url + '/spaces/tiny/bert-sentiment?embed=1"');
    await page.close();
  });

  test('inputs in the URL fill the page (a shared link)', async () => {
    const page = await open('tiny/bert-qa', '?text=Who%3F&context=Ada+wrote+it.');
    await expect.poll(() => page.getByLabel('Question').inputValue()).toBe('Who?');
    await expect.poll(() => page.getByLabel('Context').inputValue()).toBe('Ada wrote it.');
    await page.close();
  });

  test('an unknown model gets a 404 page that links to the gallery', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${server.url}/spaces/nobody/nothing`);
    expect(res?.status()).toBe(404);
    await page.getByRole('link', { name: 'See every hosted model' }).waitFor({ state: 'visible' });
    await page.close();
  });
});

describe('phone width', () => {
  test('image-classification at 390 px: stacked columns, a camera button, and a result', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await page.goto(`${server.url}/spaces/tiny/vit`);
    await page.getByText('Take a photo').waitFor({ state: 'visible' });
    expect(await page.locator('input[capture=environment]').count()).toBe(1);
    await page.getByLabel('Examples').selectOption({ label: 'Sample image' });
    // The example image is fetched after the choice: run only once it is in (as the desktop test does).
    await page.getByRole('img', { name: /Selected image/ }).waitFor({ state: 'visible' });
    await compute(page);
    await page.getByTestId('scores').waitFor();
    const inputBox = await page.locator('form.inputs').boundingBox();
    const outputBox = await page.locator('section.outputs').boundingBox();
    expect(outputBox!.y).toBeGreaterThan(inputBox!.y + inputBox!.height - 1);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    const file = screenshotPath('space-vit-mobile');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);
    await page.close();
  });
});

describe('cold model', () => {
  let cold: TestServer;
  beforeAll(async () => {
    cold = await startServer({ waitForModelByDefault: false });
  });
  afterAll(async () => cold?.close());

  test('a cold model shows the loading state, then the answer', async () => {
    const page = await browser.newPage();
    await page.goto(`${cold.url}/spaces/tiny/bert-sentiment`);
    await expect.poll(() => page.locator('.state').textContent()).toBe('Cold');
    // Watch for the loading bar however briefly it shows.
    await page.evaluate(() => {
      const w = window as { sawLoading?: boolean };
      new MutationObserver(() => {
        if (document.querySelector('[role=progressbar]')) w.sawLoading = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    const first = page.waitForResponse((r) => r.url().endsWith('/models/tiny/bert-sentiment') && r.status() === 503);
    await page.getByLabel('Examples').selectOption({ label: 'Positive' });
    await compute(page);
    const res = await first;
    expect((await res.json()).estimated_time).toBeGreaterThan(0);
    await page.getByTestId('scores').waitFor();
    expect(await page.evaluate(() => (window as { sawLoading?: boolean }).sawLoading)).toBe(true);
    await expect.poll(() => page.locator('.state').textContent()).toBe('Loaded');
    await page.close();
  });
});
