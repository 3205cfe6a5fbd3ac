/**
 * PNG of the report's main chart, for sharing: the HTML report is opened in headless Chromium (playwright-core) and
 * the figure is screenshotted, so the PNG is exactly what the report shows. Needs a Chromium or Chrome binary
 * (`--chromium`, CHROMIUM_PATH, or one on the usual paths); the HTML, JSON and CSV outputs do not.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A Chromium binary: the one asked for, CHROMIUM_PATH, or the first of the usual names on PATH. */
export function findChromium(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const asked = explicit ?? env.CHROMIUM_PATH;
  if (asked) {
    if (executable(asked)) return asked;
    throw new Error(`Chromium not found at ${asked} (from ${explicit ? '--chromium' : 'CHROMIUM_PATH'}).`);
  }
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const name of CANDIDATES) for (const dir of dirs) if (executable(path.join(dir, name))) return path.join(dir, name);
  throw new Error(
    'the PNG is a screenshot of the report in headless Chromium, and no Chromium was found. Install it (Debian/Ubuntu: apt-get install chromium), ' +
      'or point --chromium or CHROMIUM_PATH at a Chrome/Chromium binary. The HTML report itself needs no browser.',
  );
}

/** Opens the report and waits until every chart is drawn. The caller closes the browser. */
export async function openReport(htmlFile: string, chromium: string) {
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new Error('the PNG needs the playwright-core package: run `npm ci` in the modelhost folder');
  }
  const browser = await playwright.chromium.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 2 });
    // The report must work offline: any request leaving the file is refused (and would show as a failure).
    await page.route(/^(?!file:|data:)/, (route) => route.abort());
    await page.goto(pathToFileURL(path.resolve(htmlFile)).href);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    return { browser, page };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

/** Writes the main chart (latency percentiles, with the report's title) as a PNG. */
export async function writePng(htmlFile: string, pngFile: string, chromium: string): Promise<void> {
  const { browser, page } = await openReport(htmlFile, chromium);
  try {
    // Title and main chart together, so the image says what it is when shared on its own.
    await page.evaluate(() => {
      const fig = document.getElementById('fig-percentiles');
      const title = document.getElementById('share-title');
      if (!fig || !title) throw new Error('the report has no main chart');
      const card = document.createElement('div');
      card.id = 'share-card';
      card.style.cssText = 'background:#fff;padding:16px;width:1000px';
      card.append(title.cloneNode(true), fig);
      document.querySelector('main')!.prepend(card);
      // The chart lays itself out again at the card's width.
      (window as unknown as { Chart?: { getChart(id: string): { resize(): void } | undefined } }).Chart?.getChart('chart-percentiles')?.resize();
    });
    await page.waitForTimeout(50);
    await page.locator('#share-card').screenshot({ path: pngFile });
  } finally {
    await browser.close();
  }
}
