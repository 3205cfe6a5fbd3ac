/**
 * The console's dedicated endpoints page against the real endpoints API: an endpoint created through the API is
 * listed with its replicas, its details show metrics, and the page's Pause and Resume change its state.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import type { TestServer } from '../helpers/server.ts';
import { api, startEndpointServer } from '../endpoints/helpers.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startEndpointServer(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('console: dedicated endpoints', () => {
  test('list, details with metrics, pause and resume from the page', async () => {
    const a = api(server);
    const created = await a.create({ name: 'console-ep', type: 'public', model: { repository: 'tiny/bert-sentiment' }, compute: { scaling: { minReplica: 1, maxReplica: 1 } } });
    expect(created.status).toBe(200);
    await a.until('console-ep', 'running');

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/admin/endpoints`);
    const row = page.getByTestId('endpoints').locator('tbody tr', { hasText: 'console-ep' });
    await row.waitFor();
    expect(await row.textContent()).toContain('running');
    expect(await row.textContent()).toContain('tiny/bert-sentiment');
    expect((await row.locator('td.num').textContent())?.replace(/\s/g, '')).toBe('1/1');

    await page.getByRole('button', { name: 'Details of console-ep' }).click();
    await page.getByRole('heading', { name: 'console-ep' }).waitFor();
    await expect.poll(() => page.getByLabel('Metrics JSON').textContent()).not.toBe('null');

    await page.getByRole('button', { name: 'Pause console-ep' }).click();
    await a.until('console-ep', 'paused');
    await expect.poll(() => row.locator('td').first().textContent(), { timeout: 15_000 }).toBe('paused');
    const file = screenshotPath('console-endpoints-live');
    await page.screenshot({ path: file, fullPage: true });
    expectNotBlank(file);

    await page.getByRole('button', { name: 'Resume console-ep' }).click();
    await a.until('console-ep', 'running');
    await expect.poll(() => row.locator('td').first().textContent(), { timeout: 15_000 }).toBe('running');
    await page.close();
    expect((await a.remove('console-ep')).status).toBeLessThan(300);
    // Gone (and its replica process with it) before the next test file can look for stray processes.
    await expect.poll(async () => (await a.get('console-ep')).status, { timeout: 15_000 }).toBe(404);
  }, 120_000);
});
