/** Figures of the suite's parts, the summary table, and its place in docs/benchmarks.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { SuiteFigure, SuiteResult } from '../result.ts';
import type { ColdStartResult } from './cold-start.ts';

type Json = Record<string, unknown>;
const get = (o: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

interface Target {
  pass?: boolean;
  value?: number;
  target?: number;
}

export function engineFigures(report: unknown): SuiteFigure[] {
  const targets = (get(report, 'summary', 'targets') ?? {}) as Record<string, Target>;
  const out: SuiteFigure[] = [
    { bench: 'engine', name: 'best served throughput', value: num(get(report, 'summary', 'bestServed', 'reqPerSec')), unit: 'req/s' },
    { bench: 'engine', name: 'raw onnxruntime limit', value: num(get(report, 'summary', 'rawLimit', 'itemsPerSec')), unit: 'items/s' },
  ];
  if (targets.throughput) out.push({ bench: 'engine', name: 'served / raw', value: num(targets.throughput.value), unit: 'ratio', target: `≥ ${targets.throughput.target}`, pass: targets.throughput.pass });
  const gain = num(get(report, 'summary', 'batchingGain', 'factor'));
  if (gain !== null) out.push({ bench: 'engine', name: `batching gain at concurrency ${String(get(report, 'summary', 'batchingGain', 'concurrency'))}`, value: gain, unit: '×' });
  if (targets.eventLoop) out.push({ bench: 'engine', name: 'event-loop P99 while saturated', value: num(targets.eventLoop.value), unit: 'ms', target: `< ${targets.eventLoop.target}`, pass: targets.eventLoop.pass });
  return out;
}

export function gatewayFigures(report: unknown): SuiteFigure[] {
  const t = (get(report, 'targets') ?? {}) as Record<string, Target>;
  const out: SuiteFigure[] = [
    { bench: 'gateway', name: 'c=1 latency P50 through modelhost', value: num(get(report, 'c1', 'targets', 'modelhost', 'latencyMs', 'p50')), unit: 'ms' },
  ];
  if (t.addedP50) out.push({ bench: 'gateway', name: 'c=1 added latency P50', value: num(t.addedP50.value), unit: 'ms', target: `≤ ${t.addedP50.target}`, pass: t.addedP50.pass });
  if (t.addedP99) out.push({ bench: 'gateway', name: 'c=1 added latency P99', value: num(t.addedP99.value), unit: 'ms', target: `≤ ${t.addedP99.target}`, pass: t.addedP99.pass });
  out.push({ bench: 'gateway', name: 'c=64 throughput through modelhost', value: num(get(report, 'c64', 'targets', 'modelhost', 'reqPerSec')), unit: 'req/s' });
  if (t.throughputShareOfBare)
    out.push({ bench: 'gateway', name: 'c=64 req/s vs bare proxy', value: num(t.throughputShareOfBare.value), unit: 'ratio', target: `≥ ${t.throughputShareOfBare.target}`, pass: t.throughputShareOfBare.pass });
  return out;
}

/** perf/endpoints.ts: a dedicated endpoint woken from zero, and its warm latency beside the serverless route. */
export function endpointFigures(report: unknown): SuiteFigure[] {
  const cold = num(get(report, 'coldStartMs', 'median'));
  const noSpare = num(get(report, 'coldStartNoSpareMs', 'median'));
  return [
    { bench: 'endpoints', name: 'endpoint cold start: wake → first answer (median)', value: cold, unit: 'ms', target: '< 350', pass: cold !== null && cold < 350 },
    { bench: 'endpoints', name: 'endpoint cold start without a spare replica (median)', value: noSpare, unit: 'ms' },
    { bench: 'endpoints', name: 'endpoint warm request P50', value: num(get(report, 'warmMs', 'endpoint', 'p50')), unit: 'ms' },
    { bench: 'endpoints', name: 'serverless warm request P50 (same model)', value: num(get(report, 'warmMs', 'serverless', 'p50')), unit: 'ms' },
  ];
}

export function coldStartFigures(c: ColdStartResult): SuiteFigure[] {
  return [
    { bench: 'cold-start', name: 'serve: spawn to listening (median)', value: c.median.listeningMs, unit: 'ms' },
    { bench: 'cold-start', name: `first request to ${c.model}, cold (median)`, value: c.median.firstRequestMs, unit: 'ms' },
    { bench: 'cold-start', name: `later requests to ${c.model}, warm (median)`, value: c.median.warmRequestMs, unit: 'ms' },
    { bench: 'cold-start', name: 'serve --preload all: spawn to ready', value: c.preloadAllReadyMs, unit: 'ms' },
  ];
}


const fmtValue = (f: SuiteFigure) => {
  if (f.value === null) return '-';
  if (f.unit === 'ratio') return `${(100 * f.value).toFixed(0)} %`;
  const digits = f.unit === 'ms' && Math.abs(f.value) < 10 ? 2 : 1;
  return `${f.value.toFixed(digits)} ${f.unit}`;
};
const fmtTarget = (f: SuiteFigure) => (f.target === undefined ? '' : f.unit === 'ratio' ? f.target.replace(/([\d.]+)/, (n) => `${(100 * Number(n)).toFixed(0)} %`) : `${f.target} ${f.unit}`);

/** Markdown table: one row per figure, with its target and PASS/MISS where the issue that made it set one. */
export function summaryTable(suite: SuiteResult): string {
  const rows = suite.figures.map((f) => `| ${f.bench} | ${f.name} | ${fmtValue(f)} | ${fmtTarget(f)} | ${f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS'} |`);
  const failed = suite.failures.map((f) => `| ${f.bench} | failed: ${f.error.split('\n')[0]!.replace(/\|/g, '\\|')} | | | |`);
  return ['| bench | figure | value | target | |', '| --- | --- | ---: | --- | --- |', ...rows, ...failed].join('\n');
}

export const START = '<!-- bench:summary:start -->';
export const END = '<!-- bench:summary:end -->';

/** Rewrites the text between the markers (or appends a section with them) in the docs file. */
export function updateDocs(file: string, suite: SuiteResult, suiteFile: string): void {
  const m = suite.machine;
  const block = [
    START,
    `Last run: ${suite.startedAt} (${suite.quick ? 'quick' : 'full'}), ${m.cpus} × ${m.cpuModel}, ${m.memGb} GB, ${m.platform} ${m.arch}, Node ${suite.versions.node}, ` +
      `modelhost ${suite.versions.modelhost}${suite.versions.commit ? ` (${suite.versions.commit.slice(0, 10)})` : ''}, load average ${m.loadavg.join(' ')}. ` +
      `Result files (not committed): \`${suiteFile}\`${Object.values(suite.files).length ? `, ${Object.values(suite.files).map((f) => `\`${f}\``).join(', ')}` : ''}.`,
    '',
    summaryTable(suite),
    END,
  ].join('\n');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n## Latest results\n\n${block}\n`;
  writeFileSync(file, next);
}
