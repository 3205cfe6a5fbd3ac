/**
 * The HTML report in a real browser (Debian's chromium driven by playwright-core): it renders with no network,
 * draws one chart per figure, and the PNG of its main chart is a real picture. Also the CSV and the comparison.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench, type BenchOptions } from '../../src/bench/bench.ts';
import { compareRuns, toCsv } from '../../src/bench/format.ts';
import { chartList, renderHtml } from '../../src/bench/html.ts';
import { loadPayload } from '../../src/bench/payloads.ts';
import { findChromium, openReport, writePng } from '../../src/bench/png.ts';
import { parseBenchRun, type BenchRun } from '../../src/bench/result.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { startSim } from '../helpers/router.ts';

/** Distinct colours and the share of pixels that are not the background (near white). */
function pictureStats(png: PNG) {
  const colours = new Set<number>();
  let ink = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    colours.add((r << 16) | (g << 8) | b);
    if (r + g + b < 3 * 235) ink++;
  }
  return { colours: colours.size, ink: ink / (png.width * png.height) };
}

describe('bench report', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  let good: Simulator & { api: string };
  let flaky: Simulator & { api: string };
  let run: BenchRun;

  beforeAll(async () => {
    good = await startSim('openai-compatible', { latencyMs: { mean: 15, jitter: 5 } });
    flaky = await startSim('openai-compatible', { latencyMs: { mean: 30, jitter: 10 }, errorRate: 0.2, rateLimitRate: 0.1, seed: 5 });
    const opts: BenchOptions = {
      targets: [`good=${good.url}/v1/chat/completions`, `flaky=${flaky.url}/v1/chat/completions`],
      baseUrl: 'http://127.0.0.1:9',
      model: 'sim/chat',
      stream: false,
      payload: loadPayload({ task: 'conversational' }),
      headers: {},
      requests: 30,
      concurrency: 3,
      warmup: 0,
      rate: null,
      timeoutSeconds: 10,
      examples: 2,
      prices: new Map([
        ['good', 0.0004],
        ['flaky', 0.0001],
      ]),
      command: 'test',
      env: {},
    };
    run = await runBench(opts);
  });
  afterAll(async () => {
    await good?.close();
    await flaky?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders offline in headless Chromium with one drawn chart per figure', async () => {
    const html = path.join(dir, 'report.html');
    writeFileSync(html, renderHtml(run));
    const expected = chartList(run).map((c) => c.id);
    // Latency percentiles, distribution, timeline, first byte, errors, throughput and cost (prices were given).
    expect(expected).toEqual(['chart-percentiles', 'chart-distribution', 'chart-timeline', 'chart-first', 'chart-errors', 'chart-throughput', 'chart-cost']);

    const { browser, page } = await openReport(html, findChromium());
    try {
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('requestfailed', (r) => problems.push(`request left the file: ${r.url()}`));
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      expect(problems).toEqual([]);
      expect(await page.getAttribute('body', 'data-charts')).toBe(String(expected.length));
      const canvases = await page.$$eval('canvas', (els) => els.map((e) => e.id));
      expect(canvases).toEqual(expected);
      // Every chart has drawn something: count the pixels that are not transparent.
      for (const id of expected) {
        const painted = await page.$eval(`#${id}`, (el) => {
          const c = el as HTMLCanvasElement;
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
          return n;
        });
        expect(painted, id).toBeGreaterThan(2000);
      }
      // The error chart has a series for each kind of failure the flaky target had.
      const errorSeries = await page.$eval('#chart-errors', () =>
        (window as unknown as { Chart: { getChart(id: string): { data: { datasets: { label: string }[] } } } }).Chart.getChart('chart-errors').data.datasets.map((d) => d.label),
      );
      expect(errorSeries).toEqual(['ok', ...Object.keys(run.targets[1]!.errors)]);
      expect(Object.keys(run.targets[1]!.errors).sort()).toEqual(['http_429', 'http_5xx']);
      // The table shows both targets' figures.
      const rows = await page.$$eval('tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      expect(rows).toHaveLength(2);
      expect(rows[0]).toContain('good');
      expect(rows[0]).toContain(String(run.targets[0]!.latencyMs!.p95.toFixed(1)));

      const shot = PNG.sync.read(await page.screenshot({ fullPage: true }));
      const s = pictureStats(shot);
      expect(shot.height).toBeGreaterThan(1000);
      expect(s.colours).toBeGreaterThan(50);
      expect(s.ink).toBeGreaterThan(0.02);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('writes a PNG of the main chart that is a real picture', async () => {
    const html = path.join(dir, 'share.html');
    const png = path.join(dir, 'share.png');
    writeFileSync(html, renderHtml(run));
    await writePng(html, png, findChromium());
    const image = PNG.sync.read(readFileSync(png));
    expect(image.width).toBeGreaterThanOrEqual(1000);
    expect(image.height).toBeGreaterThan(400);
    const s = pictureStats(image);
    // Four coloured series of bars, axis text and a title: far from a blank or single-colour image.
    expect(s.colours).toBeGreaterThan(20);
    expect(s.ink).toBeGreaterThan(0.05);
  }, 60_000);

  it('names a missing Chromium and what to do', () => {
    expect(() => findChromium(undefined, { PATH: dir })).toThrow(/apt-get install chromium.*--chromium or CHROMIUM_PATH/s);
    expect(() => findChromium(path.join(dir, 'nope'))).toThrow(/not found at .*nope.*--chromium/);
  });

  it('writes one CSV row per target and compares runs target by target', () => {
    const lines = toCsv(run).trim().split('\n');
    expect(lines).toHaveLength(3);
    const header = lines[0]!.split(',');
    const good = lines[1]!.split(',');
    expect(good[header.indexOf('target')]).toBe('good');
    expect(Number(good[header.indexOf('p95_ms')])).toBe(run.targets[0]!.latencyMs!.p95);
    expect(Number(good[header.indexOf('cost_per_request_usd')])).toBe(0.0004);

    const again = parseBenchRun(JSON.parse(JSON.stringify(run)));
    again.targets[0]!.latencyMs!.p50 = run.targets[0]!.latencyMs!.p50 * 1.5;
    const rows = compareRuns([
      { file: 'a.json', run },
      { file: 'b.json', run: again },
    ]);
    const goodRows = rows.filter((r) => r.target === 'good');
    expect(goodRows.map((r) => r.run)).toEqual([1, 2]);
    expect(goodRows[0]!.change).toBeNull();
    expect(goodRows[1]!.change!.p50).toBeCloseTo(0.5, 6);
    expect(rows.find((r) => r.target === 'flaky' && r.run === 2)!.change!.p50).toBeCloseTo(0, 6);
    expect(() => parseBenchRun({ schema: 'something else' }, 'x.json')).toThrow(/x.json is not a modelhost bench result/);
  });
});
