/**
 * Pages of models served by hosted providers (the router, against its local simulators): a chat for a
 * conversational model, streamed, with Stop and Reset; and a task page for a routed classifier.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { startRouted, startSim } from '../helpers/router.ts';
import { postJson, type TestServer } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let server: TestServer;
let browser: Browser;
let sims: { close(): Promise<void> }[] = [];
const CHAT = 'meta-llama/Llama-3.1-8B-Instruct';

beforeAll(async () => {
  const vllm = await startSim('openai-compatible');
  const hf = await startSim('hf-inference');
  sims = [vllm, hf];
  server = await startRouted({
    providers: [
      { name: 'vllm', type: 'openai-compatible', baseUrl: vllm.api },
      { name: 'hf-inference', type: 'hf-inference', baseUrl: hf.api },
    ],
    models: [
      { id: CHAT, task: 'conversational', providers: [{ provider: 'vllm', id: 'llama-3.1-8b' }] },
      { id: 'distilbert/sst2-sentiment', task: 'text-classification', providers: [{ provider: 'hf-inference' }] },
    ],
  });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  for (const s of sims) await s.close();
});

describe('routed models', () => {
  test('the gallery lists routed models next to local ones', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/spaces`);
    const ids = await page.locator('.cards h2 a').allTextContents();
    expect(ids).toContain(CHAT);
    expect(ids).toContain('distilbert/sst2-sentiment');
    expect(ids).toContain('tiny/bert-sentiment');
    await page.close();
  });

  test('a conversational model gets a chat: the answer streams into an assistant bubble; Reset clears it', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/spaces/${CHAT}`);
    await page.getByLabel('Examples').selectOption({ label: 'Hello' });
    expect(await page.getByLabel('Message').inputValue()).toBe('Hello! What can you do?');
    await page.getByRole('button', { name: 'Send' }).click();
    const assistant = page.locator('[data-testid=chat] li.assistant');
    await expect.poll(async () => ((await assistant.textContent()) ?? '').replace('Assistant: ', '').length, { timeout: 20_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    const api = await postJson(`${server.url}/v1/chat/completions`, { model: CHAT, messages: [{ role: 'user', content: 'Hello! What can you do?' }] });
    expect(api.status).toBe(200);
    const shown = ((await assistant.textContent()) ?? '').replace('Assistant: ', '');
    expect(shown).toBe(api.json.choices[0].message.content);
    expect(await page.locator('[data-testid=chat] li.user').textContent()).toContain('Hello! What can you do?');
    const file = screenshotPath('space-chat');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);
    await page.getByRole('button', { name: 'Reset' }).click();
    expect(await page.locator('[data-testid=chat] li').count()).toBe(0);
    await page.close();
  });

  test('a routed classifier page answers through the router', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/spaces/distilbert/sst2-sentiment`);
    await page.getByLabel('Examples').selectOption({ label: 'Positive' });
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.getByTestId('scores').waitFor();
    const api = await postJson(`${server.url}/models/distilbert/sst2-sentiment`, { inputs: 'I like you. I love you.' });
    const first = (Array.isArray(api.json[0]) ? api.json[0] : api.json)[0] as { label: string };
    expect(await page.locator('[data-testid=scores] tbody th').first().textContent()).toBe(first.label);
    await page.close();
  });
});
