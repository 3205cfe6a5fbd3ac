/**
 * Accessibility: axe-core (the engine behind most audit tools) run inside Chromium on the gallery, a Space page
 * after a run, a model page (`/{org}/{name}`), and the console overview. No serious or critical violation may be
 * reported.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { launch } from './browser.ts';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launch()]);
  // Some traffic, so the console's charts and tables have content to check.
  for (const t of ['a', 'b']) await postJson(`${server.url}/models/tiny/bert-sentiment`, { inputs: t });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[];
  passes: unknown[];
}

async function audit(page: Page): Promise<AxeResult> {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<AxeResult> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
  });
}

function serious(r: AxeResult) {
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

describe('axe-core', () => {
  test('the gallery', async () => {
    const page = await browser.newPage({ bypassCSP: true }); // the pages' CSP forbids injected scripts, axe's included
    await page.goto(`${server.url}/spaces`);
    await page.locator('.cards').waitFor();
    const r = await audit(page);
    expect(r.passes.length).toBeGreaterThan(10);
    expect(serious(r)).toEqual([]);
    await page.close();
  });

  test('a model page, with its output and JSON shown', async () => {
    const page = await browser.newPage({ bypassCSP: true }); // the pages' CSP forbids injected scripts, axe's included
    await page.goto(`${server.url}/spaces/tiny/bert-ner`);
    await page.getByLabel('Examples').selectOption({ index: 1 });
    await page.getByRole('button', { name: 'Compute' }).click();
    await page.getByTestId('entities').waitFor();
    await page.getByLabel('Show as a table').check();
    await page.getByLabel('JSON output').check();
    const r = await audit(page);
    expect(serious(r)).toEqual([]);
    await page.close();
  });

  test('a model page (card, files, Deploy and Use this model, every entry open)', async () => {
    const page = await browser.newPage({ bypassCSP: true }); // the pages' CSP forbids injected scripts, axe's included
    await page.goto(`${server.url}/tiny/bert-sentiment`);
    await page.getByTestId('card').getByRole('heading').first().waitFor();
    const closed = page.locator('details:not([open]) > summary');
    while ((await closed.count()) > 0) await closed.first().click();
    const card = await audit(page);
    expect(card.passes.length).toBeGreaterThan(10);
    expect(serious(card)).toEqual([]);
    await page.getByRole('link', { name: /^Files/ }).click();
    await page.getByTestId('files').waitFor();
    expect(serious(await audit(page))).toEqual([]);
    await page.close();
  });

  test('the console overview', async () => {
    const page = await browser.newPage({ bypassCSP: true }); // the pages' CSP forbids injected scripts, axe's included
    await page.goto(`${server.url}/admin`);
    await page.getByTestId('kpis').waitFor();
    await page.getByText('Requests per minute by status: table').click();
    const r = await audit(page);
    expect(serious(r)).toEqual([]);
    await page.close();
  });
});
