/**
 * The Spaces page of a local model with a chat template is a chat: the answer streams into an assistant bubble
 * and is the answer the API gives for the same conversation and the seed the server drew (x-modelhost-seed).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from '../ui/browser.ts';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  server = await startServer();
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test('tiny/llama-chat: a chat page that streams the answer the API gives for that seed; a plain decoder keeps its text page', async () => {
  const page = await browser.newPage();
  let seed: string | undefined;
  page.on('response', (res) => {
    if (res.url().endsWith('/v1/chat/completions')) seed = res.headers()['x-modelhost-seed'];
  });
  await page.goto(`${server.url}/spaces/tiny/llama-chat`);
  await page.getByLabel('Message').fill('Hello there, who are you?');
  await page.getByRole('button', { name: 'Send' }).click();
  const assistant = page.locator('[data-testid=chat] li.assistant');
  await expect.poll(async () => ((await assistant.textContent()) ?? '').replace('Assistant: ', '').length, { timeout: 30_000 }).toBeGreaterThan(0);
  await page.getByRole('button', { name: 'Send' }).waitFor();
  await expect.poll(() => page.getByRole('button', { name: 'Stop' }).isDisabled(), { timeout: 30_000 }).toBe(true);
  expect(seed).toMatch(/^\d+$/);
  const api = await postJson(`${server.url}/v1/chat/completions`, { model: 'tiny/llama-chat', messages: [{ role: 'user', content: 'Hello there, who are you?' }], seed: Number(seed) });
  expect(((await assistant.textContent()) ?? '').replace('Assistant: ', '')).toBe(api.json.choices[0].message.content);
  const file = screenshotPath('space-local-chat');
  await page.screenshot({ path: file, fullPage: true });
  expectNotBlank(file);

  await page.goto(`${server.url}/spaces/tiny/gpt2`);
  expect(await page.getByRole('button', { name: 'Compute' }).count()).toBe(1);
  expect(await page.locator('[data-testid=chat]').count()).toBe(0);
  await page.close();
});
