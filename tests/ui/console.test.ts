/**
 * The admin console in a real browser: after a few calls, an admin sees every page with live figures; a token
 * without the admin scope gets 403 (from the API and on the page); no token value appears in any page, in the
 * request log or in the server's log lines.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { compose, type Composed } from '../../src/compose.ts';
import { loadConfig } from '../../src/config.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { postJson } from '../helpers/server.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

let composed: Composed;
let url: string;
let browser: Browser;
const logLines: string[] = [];
let admin: string;
let user: string;
const benchDir = mkdtempSync(path.join(tmpdir(), 'modelhost-bench-'));
const previousBenchDir = process.env.MODELHOST_BENCH_DIR;

beforeAll(async () => {
  process.env.MODELHOST_BENCH_DIR = benchDir;
  writeFileSync(
    path.join(benchDir, 'gateway-test.json'),
    JSON.stringify({ startedAt: '2026-01-01T00:00:00.000Z', targets: [{ name: 'tiny/bert-sentiment', latency: { count: 10, mean: 4, p50: 3.5, p95: 9, p99: 12, max: 13 } }] }),
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'modelhost-console-data-'));
  const config = loadConfig({ modelsDir: TEST_MODELS_DIR, port: 0, logLevel: 'info', waitForModelByDefault: true, dataDir }, {});
  // The server's own log lines are captured, to check no token value is ever written.
  composed = await compose(config, { tiers: [{ name: 'anonymous' }, { name: 'free' }], logger: { level: 'info', stream: { write: (line: string) => logLines.push(line) } } });
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  const address = composed.app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await launch();

  // The first token is made anonymously (loopback, none exists yet); from then on every call needs one.
  const a = await postJson(`${url}/api/tokens`, { name: 'ops', scopes: ['admin', 'endpoints', 'inference'] });
  expect(a.status).toBe(201);
  admin = a.json.token;
  const u = await postJson(`${url}/api/tokens`, { name: 'app-user', scopes: ['inference'] }, { authorization: `Bearer ${admin}` });
  expect(u.status).toBe(201);
  user = u.json.token;

  const auth = { authorization: `Bearer ${user}` };
  for (const text of ['I like it', 'I hate it', 'So so']) {
    expect((await postJson(`${url}/models/tiny/bert-sentiment`, { inputs: text }, auth)).status).toBe(200);
  }
  expect((await postJson(`${url}/models/tiny/bert-mlm`, { inputs: 'no mask' }, auth)).status).toBe(400);
  expect((await postJson(`${url}/spaces/tiny/bert-qa/gradio_api/run/predict`, { data: ['Who?', 'Ada wrote it.'] }, auth)).status).toBe(200);
  // One call with a token in the query string and a wrong token, to see neither is logged.
  await fetch(`${url}/models/tiny/bert-sentiment?token=${user}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${user}x` }, body: '{"inputs":"x"}' });
});

afterAll(async () => {
  if (previousBenchDir === undefined) delete process.env.MODELHOST_BENCH_DIR;
  else process.env.MODELHOST_BENCH_DIR = previousBenchDir;
  await browser?.close();
  await composed?.close();
});

async function signedIn(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${url}/admin`);
  await page.getByLabel(/Admin token/).fill(admin);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  return page;
}

function expectNoTokens(text: string, where: string) {
  expect(text.includes(admin), `${where} shows the admin token`).toBe(false);
  expect(text.includes(user), `${where} shows the user token`).toBe(false);
}

describe('console', () => {
  test('a token without the admin scope gets 403 from the console API and a clear message on the page', async () => {
    const res = await fetch(`${url}/api/console/overview`, { headers: { authorization: `Bearer ${user}` } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/admin/);
    expect((await fetch(`${url}/api/console/overview`)).status).toBe(401);
    const page = await browser.newPage();
    await page.goto(`${url}/admin`);
    await page.getByLabel(/Admin token/).fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/does not have the admin scope/);
    expectNoTokens(await page.content(), 'the sign-in page');
    await page.close();
  });

  test('an admin sees every page with live data', async () => {
    const page = await signedIn();
    // Overview: the calls made above are counted.
    const kpis = page.getByTestId('kpis');
    await kpis.waitFor();
    await expect.poll(async () => Number((await kpis.locator('li', { hasText: 'Requests in range' }).locator('.v').textContent()) ?? 0)).toBeGreaterThanOrEqual(5);
    expect(await kpis.locator('li', { hasText: 'Models loaded' }).locator('.v').textContent()).toMatch(/^[1-9]\d* \/ \d+$/);
    await page.getByText('Requests per minute by status: table').click();
    const rows = await page.locator('figure', { hasText: 'Requests per minute by status' }).locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.textContent))));
    expect(rows.reduce((n, r) => n + r.reduce((a, b) => a + b, 0), 0)).toBeGreaterThanOrEqual(5);
    const shots: string[] = [];
    const shot = async (name: string) => {
      const file = screenshotPath(`console-${name}`);
      await page.screenshot({ path: file, fullPage: true });
      expectNotBlank(file);
      shots.push(name);
      expectNoTokens(await page.content(), `the ${name} page`);
    };
    await shot('overview');

    await page.getByRole('link', { name: 'Models' }).click();
    const models = page.getByTestId('models');
    await models.waitFor();
    const sentiment = models.locator('tr', { hasText: 'tiny/bert-sentiment' });
    await expect.poll(async () => Number(await sentiment.locator('td').nth(5).textContent())).toBeGreaterThanOrEqual(3);
    expect(await sentiment.locator('td').nth(2).textContent()).toBe('ready');
    // Unload, then preload again, from the page.
    await page.getByRole('button', { name: 'Unload tiny/bert-sentiment' }).click();
    await expect.poll(() => sentiment.locator('td').nth(2).textContent()).toBe('unloaded');
    await page.getByRole('button', { name: 'Preload tiny/bert-sentiment' }).click();
    await expect.poll(() => sentiment.locator('td').nth(2).textContent(), { timeout: 30_000 }).toBe('ready');
    await shot('models');

    await page.getByRole('link', { name: 'Dedicated endpoints' }).click();
    await page.getByTestId('endpoints').waitFor();
    await shot('endpoints');

    await page.getByRole('link', { name: 'Providers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Providers' }).waitFor();
    await expect.poll(() => page.locator('main').textContent()).toMatch(/No providers file is configured|Providers \(last/);
    await shot('providers');

    await page.getByRole('link', { name: 'Tokens and tiers' }).click();
    const tokens = page.getByTestId('tokens');
    await tokens.waitFor();
    expect((await tokens.locator('tbody th').allTextContents()).sort()).toEqual(['app-user', 'ops']);
    await page.getByTestId('tiers').waitFor();
    await shot('tokens');

    await page.getByRole('link', { name: 'Usage and cost' }).click();
    const usage = page.getByTestId('usage');
    await usage.waitFor();
    await expect.poll(async () => Number(await usage.locator('tbody tr').first().locator('td').first().textContent())).toBeGreaterThanOrEqual(5);
    await page.getByLabel('Group by').selectOption('model');
    await expect.poll(() => usage.locator('tbody th').allTextContents()).toContain('tiny/bert-sentiment');
    // Audio and images have their own columns: they are not counted as characters.
    expect(await usage.locator('thead th').allTextContents()).toEqual(expect.arrayContaining(['Characters', 'Audio', 'Megapixels']));
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const csvPath = await (await download).path();
    const csv = (await import('node:fs')).readFileSync(csvPath, 'utf8');
    expect(csv.split('\n')[0]).toBe('model,requests,errors,inputTokens,outputTokens,characters,audioSeconds,megapixels,computeMs,costUsd,avgLatencyMs');
    expect(csv).toMatch(/tiny\/bert-sentiment,\d+,/);
    await shot('usage');

    await page.getByRole('link', { name: 'Request log' }).click();
    const log = page.getByTestId('log');
    await log.waitFor();
    await expect.poll(() => log.locator('tbody tr', { hasText: '/models/tiny/bert-mlm' }).count()).toBeGreaterThanOrEqual(1);
    expect(await log.locator('tbody tr', { hasText: '/models/tiny/bert-mlm' }).first().textContent()).toContain('400');
    expect(await log.locator('tbody tr', { hasText: '/models/tiny/bert-mlm' }).first().textContent()).toContain('app-user');
    await page.getByLabel('Status').selectOption('4xx');
    await expect.poll(async () => (await log.locator('tbody tr td:nth-child(5)').allTextContents()).every((s) => s.startsWith('4'))).toBe(true);
    await shot('log');

    await page.getByRole('link', { name: 'Bench reports' }).click();
    await page.getByRole('button', { name: 'gateway-test.json' }).click();
    await page.getByText('Latency (ms): table').click();
    await expect.poll(() => page.locator('figure', { hasText: 'Latency (ms)' }).locator('tbody tr').first().textContent()).toContain('3.5 ms');
    await shot('bench');
    expect(shots).toHaveLength(8);
    await page.close();
  });

  test('a Space page on a server with tokens asks for one, then runs with it', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/spaces/tiny/bert-sentiment`);
    await page.getByLabel('Examples').selectOption({ label: 'Positive' });
    await page.getByRole('button', { name: 'Compute' }).click();
    await expect.poll(() => page.getByTestId('error').textContent()).toMatch(/token is required/);
    await page.getByLabel(/This server needs a token/).fill(user);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.getByTestId('scores').waitFor();
    expectNoTokens(await page.content(), 'the Space page');
    await page.close();
  });

  test('no token value appears in the console APIs or the server log', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    for (const p of ['/api/console/log?limit=5000', '/api/console/overview', '/api/console/models', '/api/tokens', '/api/usage?by=token,model', '/admin', '/spaces']) {
      const res = await fetch(`${url}${p}`, { headers });
      expect(res.status, p).toBe(200);
      expectNoTokens(await res.text(), p);
    }
    expect(logLines.length).toBeGreaterThan(0);
    expectNoTokens(logLines.join('\n'), 'the server log');
  });
});
