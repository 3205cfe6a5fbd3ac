/**
 * Browser helpers for the page tests: Debian's chromium (or $CHROMIUM) driven headless by playwright-core,
 * screenshots under test-results/, and a check that a screenshot is not blank.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser } from 'playwright-core';
import { expect } from 'vitest';

export const RESULTS_DIR = path.resolve(import.meta.dirname, '../../test-results');

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    // The test run's global setup installs it when it runs as root; this is reached when the file runs some other way.
    throw new Error('No chromium found: run `apt-get install -y --no-install-recommends chromium` as root, or set CHROMIUM to a Chrome/Chromium binary');
  }
  return found;
}

/** `extraArgs`: more Chromium switches, e.g. `--use-file-for-fake-audio-capture=<wav>` for what the fake microphone hears. */
export async function launch(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Fake microphone and camera, so recording can be tested without devices or permission prompts.
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--disable-gpu', '--disable-dev-shm-usage', ...extraArgs],
  });
}

export function screenshotPath(name: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return path.join(RESULTS_DIR, `${name.replace(/[^\w.-]+/g, '_')}.png`);
}

/** The screenshot shows something: many colours and a fair share of pixels that are not the background. */
export function expectNotBlank(file: string): { colours: number; inked: number } {
  const png = PNG.sync.read(readFileSync(file));
  const colours = new Set<number>();
  let inked = 0;
  const d = png.data;
  for (let i = 0; i < d.length; i += 4) {
    const c = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
    colours.add(c);
    if (c !== 0xffffff) inked++;
  }
  const share = inked / (png.width * png.height);
  expect(colours.size, `${file}: distinct colours`).toBeGreaterThan(20);
  expect(share, `${file}: share of non-white pixels`).toBeGreaterThan(0.02);
  return { colours: colours.size, inked: share };
}
