/**
 * `npm run bench` (the project's suite): the cold-start part end to end (real `modelhost serve` processes over the
 * tiny models), the summary JSON and the docs table it rewrites; and the figures it reads from the engine and
 * gateway results. No timing is asserted beyond order (figures depend on the machine).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { suiteSchema } from '../../src/bench/result.ts';
import { END, START, engineFigures, gatewayFigures } from '../../src/bench/suite/summary.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';

describe('npm run bench', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-suite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures cold start, writes the summary JSON and rewrites only the docs table', () => {
    const docs = path.join(dir, 'benchmarks.md');
    writeFileSync(docs, `# Title\n\nbefore\n\n${START}\nold table\n${END}\n\nafter\n`);
    const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'bench', 'suite', 'main.ts'), '--only', 'cold-start', '--cold-rounds', '1', '--models-dir', TEST_MODELS_DIR, '--out', dir, '--docs', docs], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 150_000,
    });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    const suiteFile = readdirSync(dir).find((f) => /^suite-.*\.json$/.test(f))!;
    const suite = suiteSchema.parse(JSON.parse(readFileSync(path.join(dir, suiteFile), 'utf8')));
    expect(suite.failures).toEqual([]);
    expect(suite.machine.cpus).toBe(os.cpus().length);
    const byName = Object.fromEntries(suite.figures.map((f) => [f.name, f.value]));
    const listening = byName['serve: spawn to listening (median)']!;
    const cold = byName['first request to tiny/bert-sentiment, cold (median)']!;
    const warm = byName['later requests to tiny/bert-sentiment, warm (median)']!;
    expect(listening).toBeGreaterThan(0);
    // Loading the model makes the first request slower than the ones after it.
    expect(cold).toBeGreaterThan(warm);
    expect(byName['serve --preload all: spawn to ready']).toBeGreaterThan(0);
    expect(readdirSync(dir).some((f) => /^cold-start-.*\.json$/.test(f))).toBe(true);

    const text = readFileSync(docs, 'utf8');
    expect(text.startsWith('# Title\n\nbefore\n\n')).toBe(true);
    expect(text.endsWith('\n\nafter\n')).toBe(true);
    expect(text).not.toContain('old table');
    expect(text).toContain('| cold-start | serve: spawn to listening (median) |');
    expect(text).toContain(suite.startedAt);
  }, 180_000);

  it('reads the engine and gateway figures with their targets', () => {
    const gateway = {
      c1: { targets: { modelhost: { latencyMs: { p50: 0.8 } } } },
      c64: { targets: { modelhost: { reqPerSec: 4000 } } },
      targets: {
        addedP50: { pass: true, value: 0.2, target: 0.3 },
        addedP99: { pass: false, value: 2.5, target: 2 },
        throughputShareOfBare: { pass: true, value: 0.7, target: 0.6 },
      },
    };
    expect(gatewayFigures(gateway).map((f) => [f.name, f.value, f.pass])).toEqual([
      ['c=1 latency P50 through modelhost', 0.8, undefined],
      ['c=1 added latency P50', 0.2, true],
      ['c=1 added latency P99', 2.5, false],
      ['c=64 throughput through modelhost', 4000, undefined],
      ['c=64 req/s vs bare proxy', 0.7, true],
    ]);
    const engine = { summary: { bestServed: { reqPerSec: 400 }, rawLimit: { itemsPerSec: 500 }, batchingGain: { concurrency: 32, factor: 1.8 }, targets: { throughput: { pass: false, value: 0.8, target: 0.85 } } } };
    expect(engineFigures(engine).map((f) => [f.name, f.value, f.target ?? null])).toEqual([
      ['best served throughput', 400, null],
      ['raw onnxruntime limit', 500, null],
      ['served / raw', 0.8, '≥ 0.85'],
      ['batching gain at concurrency 32', 1.8, null],
    ]);
  });
});
