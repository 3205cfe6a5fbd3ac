/**
 * The model page (`/{org}/{name}`) in Chromium against a real server: a local text-classification model shows
 * its card, files with sizes, and the Deploy and "Use this model" entries that apply (the same list as the model
 * info route), and its snippets run; a model served only by a hosted provider (a simulator on loopback) shows no
 * transformers.js snippet and says why; "Create dedicated endpoint" creates an endpoint whose curl line
 * answers; a card full of script injection renders without any of it reaching the DOM or running.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { scopeFor } from '../../src/auth/guard.ts';
import { parseRouterFile } from '../../src/router/config.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { FAST_SCALING } from '../endpoints/helpers.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startSim } from '../helpers/router.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { writeHfCacheRepo } from '../hub/helpers.ts';
import { expectNotBlank, launch, screenshotPath } from './browser.ts';

const run = promisify(execFile);
const LOCAL = 'tiny/bert-sentiment';
const ROUTED = 'distilbert/sst2-sentiment';
const EVIL = 'evil/card';
const CACHED = 'python/torch-qa';

const EVIL_CARD = `---
pipeline_tag: text-classification
library_name: transformers.js
---

# Evil card

<script>window.__pwned = 'script'</script>
<img src="missing.png" onerror="window.__pwned = 'onerror'" alt="broken">
<svg><script>window.__pwned = 'svg'</script><a href="javascript:window.__pwned='svg-link'">svg link</a></svg>
<iframe src="javascript:parent.__pwned='iframe'"></iframe>
<form action="javascript:window.__pwned='form'"><input name="q" autofocus onfocus="window.__pwned='onfocus'"></form>
<div id="main" class="error" style="position:fixed;inset:0" onclick="window.__pwned='onclick'">plain div</div>

[markdown link](javascript:window.__pwned='md-link')

<a href="javascript:window.__pwned='html-link'">html link</a>

<a href="JaVaScRiPt&colon;window.__pwned='encoded-link'">encoded link</a>

**bold survives**

| a | b |
|---|---|
| 1 | 2 |
`;

let server: TestServer;
let browser: Browser;
let sim: Simulator & { api: string };
let modelsDir: string;

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(tmpdir(), 'modelhost-model-page-'));
  cpSync(path.join(TEST_MODELS_DIR, LOCAL), path.join(modelsDir, LOCAL), { recursive: true });
  cpSync(path.join(TEST_MODELS_DIR, LOCAL), path.join(modelsDir, EVIL), { recursive: true });
  writeFileSync(path.join(modelsDir, EVIL, 'README.md'), EVIL_CARD);
  // A repository as PyTorch users cache it (safetensors, no ONNX): stored and served here, but not runnable.
  const torch = path.join(modelsDir, 'src', CACHED);
  cpSync(path.join(TEST_MODELS_DIR, 'tiny/bert-qa'), torch, { recursive: true });
  rmSync(path.join(torch, 'onnx'), { recursive: true });
  writeFileSync(path.join(torch, 'model.safetensors'), Buffer.alloc(4096, 7));
  const hfCache = path.join(modelsDir, 'hf-hub');
  writeHfCacheRepo(hfCache, CACHED, torch, 'c'.repeat(40));
  sim = await startSim('hf-inference');
  const routerFile = parseRouterFile({
    providers: [{ name: 'hf-inference', type: 'hf-inference', baseUrl: sim.api }],
    models: [{ id: ROUTED, task: 'text-classification', providers: [{ provider: 'hf-inference' }] }],
  });
  [server, browser] = await Promise.all([startServer({ modelsDir, hfCache }, { routerFile, endpointScaling: FAST_SCALING }), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await sim?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

type Errors = string[];

async function open(id: string, opts: { bypassCSP?: boolean; query?: string } = {}): Promise<Page & { errors: Errors }> {
  const page = (await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: opts.bypassCSP })) as Page & { errors: Errors };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(server.url) && !/^(data|blob):/.test(r.url())) page.errors.push(`request to another origin: ${r.url()}`);
  });
  const res = await page.goto(`${server.url}/${id}${opts.query ?? ''}`);
  expect(res?.status()).toBe(200);
  await page.getByRole('heading', { level: 1, name: id }).waitFor();
  return page;
}

const ways = (page: Page, menu: 'deploy' | 'use') => page.getByTestId(`menu-${menu}`).locator('details[data-way]').evaluateAll((els) => els.map((e) => e.getAttribute('data-way')));
const absent = (page: Page, menu: 'deploy' | 'use') =>
  page.getByTestId(`menu-${menu}`).locator('[data-absent]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-absent'), e.textContent!.trim()]));

/** The code of the snippet under a way (opening it first). */
async function snippet(page: Page, way: string): Promise<string> {
  const details = page.locator(`details[data-way="${way}"]`);
  if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await details.locator('summary').click();
  return (await details.locator('pre code').first().textContent())!;
}

async function shot(page: Page, name: string) {
  const file = screenshotPath(`model-page-${name}`);
  await page.screenshot({ path: file, fullPage: true });
  expectNotBlank(file);
}

describe('the model page', () => {
  test('a text-classification model: its card, files with sizes, and the Deploy and Use this model entries that apply', async () => {
    const page = await open(LOCAL);
    // The card: README.md rendered, front matter left out, headings below the page's h1.
    const card = page.getByTestId('card');
    await card.getByRole('heading', { level: 2, name: LOCAL }).waitFor();
    expect(await card.textContent()).toContain('A generated tiny test model');
    expect(await card.textContent()).not.toContain('pipeline_tag');
    expect(await card.locator('code').first().textContent()).toBe('tools/tiny-models');

    // The entries are the model info route's list, in the same order.
    const info = (await (await fetch(`${server.url}/api/models/${LOCAL}`)).json()) as { modelhost: { usage: { method: string; menu: string }[] } };
    const fromApi = (menu: string) => info.modelhost.usage.filter((u) => u.menu === menu).map((u) => u.method);
    expect(await ways(page, 'deploy')).toEqual(['serverless', 'dedicated', 'space']);
    expect(await ways(page, 'deploy')).toEqual(fromApi('deploy'));
    expect(await ways(page, 'use')).toEqual(['library', 'pull', 'huggingface_hub']);
    expect(await ways(page, 'use')).toEqual(fromApi('use'));
    expect(await absent(page, 'deploy')).toEqual([]);
    // ONNX weights only: no Python transformers snippet, and one line says why.
    expect(await absent(page, 'use')).toEqual([['transformers', expect.stringMatching(/^No transformers \(Python\) snippet: this repository has no PyTorch or safetensors weights/)]]);
    expect(await page.getByTestId('providers').textContent()).toContain('this server');

    // Snippets point at this server, as the browser reached it.
    const js = await snippet(page, 'library');
    expect(js).toContain(`env.remoteHost = '${server.url}/'`);
    expect(js).toContain(`pipeline('text-classification', '${LOCAL}'`);
    expect(await snippet(page, 'pull')).toBe(`modelhost pull ${LOCAL} --endpoint ${server.url}`);
    const py = await snippet(page, 'huggingface_hub');
    expect(py).toContain(`os.environ["HF_ENDPOINT"] = "${server.url}"`);
    expect(py).toContain(`snapshot_download("${LOCAL}")`);
    expect(await page.locator('details[data-way="space"] a').getAttribute('href')).toBe(`/spaces/${LOCAL}`);

    // The Inference API line works as printed: run in a shell, it answers what the API answers.
    const curl = await snippet(page, 'serverless');
    const { stdout } = await run('bash', ['-c', curl]);
    const direct = await postJson(`${server.url}/models/${LOCAL}`, { inputs: 'Bonjour tout le monde, comment allez-vous ?' });
    expect(JSON.parse(stdout)).toEqual(direct.json);
    // The transformers.js snippet works as printed too: transformers.js downloads the model from this server
    // (into a scratch cache, never from elsewhere) and gives the label the API gives.
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'modelhost-tjs-'));
    const program = js
      .replace('\nconst pipe', `\nenv.allowLocalModels = false;\nenv.cacheDir = ${JSON.stringify(cacheDir)};\nconst pipe`)
      .replace(/console\.log\((await pipe\(.*\))\);$/, 'console.log(JSON.stringify($1));');
    const local = await run(process.execPath, ['--input-type=module', '-e', program], { cwd: REPO_ROOT });
    rmSync(cacheDir, { recursive: true, force: true });
    const [top] = JSON.parse(local.stdout.trim().split('\n').pop()!) as { label: string; score: number }[];
    const best = (direct.json as { label: string; score: number }[][]).flat().reduce((a, b) => (b.score > a.score ? b : a));
    expect(top!.label).toBe(best.label);
    expect(top!.score).toBeCloseTo(best.score, 4);
    await shot(page, 'text-classification');

    // Files with their sizes, each downloadable from this server.
    await page.getByRole('link', { name: /^Files \(\d+\)$/ }).click();
    const rows = await page
      .getByTestId('files')
      .locator('tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [tr.querySelector('th')!.textContent!.trim(), Number(tr.querySelector('td.num')!.getAttribute('title')!.split(' ')[0])]));
    const expected = ['README.md', 'config.json', 'onnx/model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => [f, statSync(path.join(modelsDir, LOCAL, f)).size]);
    expect(rows).toEqual(expected);
    const href = await page.getByRole('link', { name: 'config.json', exact: true }).getAttribute('href');
    expect(await (await fetch(server.url + href)).text()).toBe(readFileSync(path.join(modelsDir, LOCAL, 'config.json'), 'utf8'));
    await shot(page, 'files');
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('a model served only by a hosted provider: no transformers.js snippet, and the page says why', async () => {
    const page = await open(ROUTED);
    expect(await ways(page, 'deploy')).toEqual(['serverless', 'dedicated', 'space']);
    expect(await ways(page, 'use')).toEqual([]);
    expect(await page.locator('details[data-way="library"]').count()).toBe(0);
    const lines = Object.fromEntries(await absent(page, 'use'));
    expect(lines.library).toBe('No transformers.js snippet: this model is served only by hosted providers (hf-inference); it has no local weights.');
    expect(lines.pull).toMatch(/^No modelhost pull or huggingface_hub download: this server has none of its files; it is served only by hosted providers \(hf-inference\)\.$/);
    expect(await page.getByTestId('providers').textContent()).toContain('hf-inference');
    expect(await page.getByTestId('card-note').textContent()).toMatch(/served by hosted providers \(hf-inference\)/);
    // Its Inference API line answers, through the router, from the provider.
    const before = sim.sim.stats.requests;
    const { stdout } = await run('bash', ['-c', await snippet(page, 'serverless')]);
    expect(Array.isArray(JSON.parse(stdout))).toBe(true);
    expect(sim.sim.stats.requests).toBe(before + 1);
    await shot(page, 'routed');
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByTestId('files-note').waitFor();
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('a cached repository this server cannot run: its files and the downloads, and why nothing else is offered', async () => {
    const page = await open(CACHED);
    expect(await page.getByTestId('unrunnable').textContent()).toMatch(/cannot run it: .*ONNX/);
    expect(await ways(page, 'deploy')).toEqual([]);
    expect((await absent(page, 'deploy')).map(([m]) => m)).toEqual(['serverless', 'dedicated', 'space']);
    expect(await ways(page, 'use')).toEqual(['pull', 'huggingface_hub', 'transformers']);
    expect((await absent(page, 'use')).map(([m]) => m)).toEqual(['library']);
    const py = await snippet(page, 'transformers');
    expect(py).toContain(`os.environ["HF_ENDPOINT"] = "${server.url}"`);
    expect(py).toContain(`pipeline("question-answering", model="${CACHED}")`);
    await page.getByRole('link', { name: /^Files/ }).click();
    expect(await page.getByTestId('files').getByText('model.safetensors').count()).toBe(1);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('"Create dedicated endpoint" creates an endpoint, shows it starting, then a curl line that answers', async () => {
    const page = await open(LOCAL);
    await page.locator('details[data-way="dedicated"] summary').click();
    await page.getByLabel('Endpoint name').fill('page-sentiment');
    await page.getByRole('button', { name: 'Create dedicated endpoint' }).click();
    await page.getByTestId('endpoint-status').getByText('page-sentiment').waitFor();
    const call = page.getByRole('figure').filter({ hasText: 'Call your endpoint' }).locator('pre code');
    await call.waitFor({ timeout: 60_000 });
    await shot(page, 'endpoint');
    const line = (await call.textContent())!;
    expect(line).toContain(`${server.url}/endpoints/page-sentiment`);
    const stored = (await (await fetch(`${server.url}/api/endpoints/admin/page-sentiment`)).json()) as { type: string; model: { repository: string }; status: { state: string } };
    expect(stored).toMatchObject({ type: 'protected', model: { repository: LOCAL }, status: { state: 'running' } });
    const { stdout } = await run('bash', ['-c', line]);
    const direct = await postJson(`${server.url}/models/${LOCAL}`, { inputs: 'Bonjour tout le monde, comment allez-vous ?' });
    expect(JSON.parse(stdout)).toEqual(direct.json);
    expect(await page.getByRole('button', { name: 'Create dedicated endpoint' }).isDisabled()).toBe(true);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('a card with script injection: nothing of it reaches the DOM or runs (sanitised, not only blocked by the CSP)', async () => {
    const page = await open(EVIL, { bypassCSP: true });
    const card = page.getByTestId('card');
    await card.getByRole('heading', { level: 2, name: 'Evil card' }).waitFor();
    expect(await card.locator('strong').textContent()).toBe('bold survives');
    expect(await card.locator('table td').allTextContents()).toEqual(['1', '2']);
    expect(await card.getByText('plain div').count()).toBe(1);
    const found = await page.evaluate(() => {
      const root = document.querySelector('[data-testid=card]')!;
      const all = [...root.querySelectorAll('*')];
      return {
        dangerous: root.querySelectorAll('script, iframe, form, input, style, object, embed').length,
        handlers: all.flatMap((e) => e.getAttributeNames().filter((n) => n.startsWith('on'))),
        styled: all.filter((e) => e.hasAttribute('style') || e.hasAttribute('id') || e.hasAttribute('class') && !e.classList.contains('img-note')).length,
        jsUrls: all.flatMap((e) => ['href', 'src', 'action', 'xlink:href'].map((a) => e.getAttribute(a) ?? '')).filter((v) => /^\s*javascript/i.test(v)),
        scriptsInPage: [...document.scripts].map((s) => s.src || s.id),
        mainLandmarks: document.querySelectorAll('#main').length,
      };
    });
    expect(found).toMatchObject({ dangerous: 0, handlers: [], styled: 0, jsUrls: [] });
    expect(found.scriptsInPage.every((s) => s === 'bootstrap' || s.startsWith(`${server.url}/ui/assets/`))).toBe(true);
    expect(found.mainLandmarks).toBe(1);
    // Click every link the card kept and give the broken image time to fail: nothing runs.
    for (const name of ['markdown link', 'html link', 'encoded link', 'svg link']) {
      const link = card.getByText(name);
      if (await link.first().isVisible()) await link.first().click({ timeout: 2000 });
    }
    await page.waitForLoadState('load');
    await page.waitForTimeout(300);
    expect(page.url()).toBe(`${server.url}/${EVIL}`);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
    await shot(page, 'sanitised');
    expect(page.errors).toEqual([]);
    await page.close();
  });

  test('the page is for browsers only, never shadows the API, and an unknown id gets the page that says so', async () => {
    const json = await fetch(`${server.url}/${LOCAL}`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(404);
    expect(((await json.json()) as { error: string }).error).toContain(`GET /api/models/${LOCAL}`);
    const html = { accept: 'text/html' };
    for (const p of ['/v1/nothing', '/api/nothing', '/models/x', '/spaces/x', '/endpoints/x']) {
      const res = await fetch(server.url + p, { headers: html });
      expect(res.status, p).toBe(404);
      expect(res.headers.get('content-type'), p).toMatch(/json/);
    }
    expect((await fetch(`${server.url}/api/tiers`, { headers: html })).headers.get('content-type')).toMatch(/json/);
    const missing = await fetch(`${server.url}/nobody/nothing`, { headers: html });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('"view":"missing"');
    // Open like the Space pages (a browser cannot send a token when it follows a link); the API stays closed.
    expect(scopeFor('GET', `/${LOCAL}`)).toBeNull();
    expect(scopeFor('GET', '/api/tokens')).toBe('admin');
    expect(scopeFor('GET', '/api/usage')).toBe('admin');
    expect(scopeFor('POST', `/${LOCAL}`)).toBe('inference');
  });
});
