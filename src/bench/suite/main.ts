/**
 * `npm run bench`: the project's own performance suite. Runs the engine benchmark (perf/engine.ts), the gateway
 * benchmark (perf/gateway.ts) and a cold-start measurement, writes each part's JSON and a summary
 * (`suite-<time>.json`, format in src/bench/result.ts) to perf/results/, and rewrites the summary table in
 * docs/benchmarks.md. Quick by default (about two minutes); `--full` runs each benchmark at its own defaults.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { packageRoot } from '../../config.ts';
import { machineInfo, versionsInfo } from '../environment.ts';
import { SUITE_SCHEMA, type SuiteFigure, type SuiteResult } from '../result.ts';
import { measureColdStart, type ColdStartResult } from './cold-start.ts';
import { coldStartFigures, endpointFigures, engineFigures, gatewayFigures, summaryTable, updateDocs } from './summary.ts';

const PARTS = ['engine', 'gateway', 'cold-start', 'endpoints'] as const;
type Part = (typeof PARTS)[number];

function partList(value: string): Part[] {
  const list = value.split(',').map((s) => s.trim()) as Part[];
  if (list.some((p) => !PARTS.includes(p))) throw new InvalidArgumentError(`expected a comma-separated list of ${PARTS.join(', ')}`);
  return list;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const program = new Command()
  .name('npm run bench')
  .description(
    "The project's performance suite: engine (perf/engine.ts), gateway (perf/gateway.ts) and cold start. Writes perf/results/<part>-<time>.json, " +
      'perf/results/suite-<time>.json and the summary table in docs/benchmarks.md. Quick by default.',
  )
  .option('--full', 'run the engine and gateway benchmarks at their own (long, ~2 min each) defaults instead of --quick', false)
  .option('--only <parts>', `parts to run: ${PARTS.join(',')}`, partList, [...PARTS])
  .option('--cold-rounds <n>', 'cold-start rounds (fresh process each)', positiveInt, 3)
  .option('--models-dir <dir>', 'models folder of the cold-start runs (the tiny models are generated there when missing)', path.join(packageRoot, 'models'))
  .option('--out <dir>', 'folder for the JSON results', path.join(packageRoot, 'perf', 'results'))
  .option('--docs <file>', 'markdown file whose summary table is rewritten (between the bench:summary markers)', path.join(packageRoot, 'docs', 'benchmarks.md'))
  .option('--no-docs', 'do not touch the docs')
  .addHelpText('after', '\nExamples:\n  npm run bench\n  npm run bench -- --full\n  npm run bench -- --only cold-start --cold-rounds 5\n  npm run bench -- --only gateway --no-docs');

interface Opts {
  full: boolean;
  only: Part[];
  coldRounds: number;
  modelsDir: string;
  out: string;
  docs: string | false;
}

const say = (s = '') => process.stdout.write(`${s}\n`);

/** Runs one benchmark script in its own process, its output passed through. */
function runScript(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(packageRoot, script), ...args], { cwd: packageRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${signal ?? `code ${code}`}`))));
  });
}

async function main() {
  const opts = program.parse().opts<Opts>();
  const started = new Date();
  const stamp = started.toISOString().replace(/:/g, '-');
  mkdirSync(opts.out, { recursive: true });
  const rel = (f: string) => path.relative(packageRoot, f);
  const files: Record<string, string> = {};
  const figures: SuiteFigure[] = [];
  const failures: { bench: string; error: string }[] = [];
  let coldStart: ColdStartResult | undefined;
  const quickArgs = opts.full ? [] : ['--quick'];

  for (const part of opts.only) {
    say(`\n===== ${part}${(part === 'engine' || part === 'gateway') && !opts.full ? ' (--quick)' : ''} =====`);
    try {
      if (part === 'engine' || part === 'gateway') {
        const file = path.join(opts.out, `${part}-${stamp}.json`);
        await runScript(`perf/${part}.ts`, [...quickArgs, '--json', file]);
        files[part] = rel(file);
        const report = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        figures.push(...(part === 'engine' ? engineFigures(report) : gatewayFigures(report)));
      } else {
        const modelsDir = path.resolve(opts.modelsDir);
        const model = 'tiny/bert-sentiment';
        if (!existsSync(path.join(modelsDir, model))) {
          say(`generating the tiny models into ${modelsDir} (npm run models:tiny)`);
          await runScript('tools/tiny-models/main.ts', ['--out', modelsDir]);
        }
        if (!existsSync(path.join(modelsDir, model))) throw new Error(`${model} is missing from ${modelsDir}: run npm run models:tiny`);
        if (part === 'endpoints') {
          const file = path.join(opts.out, `endpoints-${stamp}.json`);
          await runScript('perf/endpoints.ts', ['--models-dir', modelsDir, '--model', model, '--rounds', String(opts.coldRounds), '--json-file', file]);
          files[part] = rel(file);
          figures.push(...endpointFigures(JSON.parse(readFileSync(file, 'utf8')) as unknown));
          continue;
        }
        coldStart = await measureColdStart({ root: packageRoot, modelsDir, model, rounds: opts.coldRounds, log: say });
        const file = path.join(opts.out, `cold-start-${stamp}.json`);
        writeFileSync(file, `${JSON.stringify({ schema: 'modelhost-bench-cold-start/1', kind: 'cold-start', startedAt: started.toISOString(), machine: machineInfo(), versions: versionsInfo(), coldStart }, null, 2)}\n`);
        files[part] = rel(file);
        figures.push(...coldStartFigures(coldStart));
      }
    } catch (e) {
      failures.push({ bench: part, error: (e as Error).message });
      say(`${part} failed: ${(e as Error).message}`);
    }
  }

  const suite: SuiteResult = {
    schema: SUITE_SCHEMA,
    kind: 'suite',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: !opts.full,
    machine: machineInfo(),
    versions: versionsInfo(),
    files,
    figures,
    ...(coldStart ? { coldStart } : {}),
    failures,
  };
  const suiteFile = path.join(opts.out, `suite-${stamp}.json`);
  writeFileSync(suiteFile, `${JSON.stringify(suite, null, 2)}\n`);
  say('\n===== summary =====');
  say(summaryTable(suite));
  say(`\nwrote ${rel(suiteFile)}`);
  if (opts.docs) {
    updateDocs(opts.docs, suite, rel(suiteFile));
    say(`updated ${rel(opts.docs)}`);
  }
  if (failures.length) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`npm run bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
