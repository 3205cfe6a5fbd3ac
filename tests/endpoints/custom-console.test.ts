/**
 * The console's endpoint panel on a custom server endpoint (issue 18), in Chromium: its command line, its replicas
 * with pid and port, its logs (the server's own output, its passed-through secret redacted), and the secret nowhere
 * on the page.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { launch } from '../ui/browser.ts';
import { allGone, hfImage, replicaPids } from './custom-helpers.ts';
import { api, startEndpointServer } from './helpers.ts';

const SECRET = `hf_console_${Math.random().toString(36).slice(2)}_secret`;
let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  process.env.SECRET_KEY = SECRET;
  [server, browser] = await Promise.all([startEndpointServer(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  delete process.env.SECRET_KEY;
});

describe('console: a custom server endpoint', () => {
  test('shows its command, replicas and logs, never its secret', async () => {
    const a = api(server);
    expect((await a.create({ name: 'console-custom', type: 'public', model: { repository: 'local/py', image: hfImage({ passEnv: ['SECRET_KEY'] }) } })).status).toBe(200);
    await a.until('console-custom', 'running', 1, 30_000);
    const [pid] = await replicaPids(server, 'console-custom');

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/admin/endpoints`);
    await page.getByRole('button', { name: 'Details of console-custom' }).click();
    await expect.poll(() => page.getByTestId('custom-server').textContent()).toMatch(/Server \(hf API\): python3 .*custom-hf-server\.py/);
    const replica = page.getByTestId('replicas').locator('tbody tr', { hasText: 'console-custom-1' });
    await replica.waitFor();
    expect(await replica.textContent()).toContain('ready');
    expect(await replica.textContent()).toContain(String(pid));
    await expect.poll(() => page.getByTestId('endpoint-logs').textContent()).toContain('key [SECRET_KEY redacted]');
    expect(await page.content()).not.toContain(SECRET);
    await page.close();

    await a.remove('console-custom');
    expect(await allGone([pid!])).toBe(true);
  }, 90_000);
});
