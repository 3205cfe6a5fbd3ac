/**
 * The console's Predictions panel against the real API: a prediction with a webhook is listed with its state,
 * and opening it shows each delivery attempt.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.ts';
import { launch } from '../ui/browser.ts';
import { receiver, until, type Receiver } from './receiver.ts';

let server: TestServer;
let browser: Browser;
let hooks: Receiver;
beforeAll(async () => {
  hooks = await receiver();
  [server, browser] = await Promise.all([startServer({ webhookAllowPrivate: true }), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await hooks?.close();
});

describe('console: predictions', () => {
  test('lists predictions with state and timings; one opened shows its webhook deliveries', async () => {
    const res = await fetch(`${server.url}/v1/models/tiny/bert-sentiment/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'wait=20' },
      body: JSON.stringify({ input: { prompt: 'shown in the console' }, webhook: hooks.url, webhook_events_filter: ['completed'] }),
    });
    const { id } = (await res.json()) as { id: string };
    await until(() => hooks.deliveries.length > 0, 10_000, 'the webhook');
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/admin/predictions`);
    const row = page.getByTestId('predictions').locator('tbody tr', { hasText: id });
    await row.waitFor();
    expect(await row.textContent()).toContain('succeeded');
    expect(await row.textContent()).toContain('tiny/bert-sentiment');
    await row.getByRole('button', { name: id }).click();
    const deliveries = page.getByTestId('deliveries');
    await deliveries.waitFor();
    await expect.poll(() => deliveries.locator('tbody tr').first().textContent(), { timeout: 10_000 }).toContain('200');
    expect(await deliveries.textContent()).toContain('completed');
    await page.close();
  }, 60_000);
});
