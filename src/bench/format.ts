/** Text table and CSV of a run's results, and the comparison of several runs. */
import type { BenchRun, Distribution, TargetResult } from './result.ts';

/** Plain-text table: first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function fmt(value: number | null | undefined, decimals = 1): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(decimals);
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (value === 0) return '$0';
  return value >= 0.01 ? `$${value.toFixed(4)}` : `$${value.toPrecision(3)}`;
}

export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function errorSummary(t: TargetResult): string {
  const parts = Object.entries(t.errors).map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

/** The end-of-run table: one row per target. */
export function resultTable(run: BenchRun): string {
  const stream = run.settings.stream;
  const headers = ['target', 'ok/sent', 'avg ms', 'P50', 'P95', 'P99', 'min', 'max', ...(stream ? ['TTFT P50'] : ['TTFB P50']), 'req/s', 'errors', 'error kinds', '$/request'];
  const rows = run.targets.map((t) => {
    if (t.fatal) return headers.map((h, i) => (i === 0 ? t.name : h === 'error kinds' ? `not measured: ${t.fatal}` : '-'));
    const l = t.latencyMs;
    const first = stream ? t.firstTokenMs : t.firstByteMs;
    return [
      t.name,
      `${t.requests.ok}/${t.requests.sent}`,
      fmt(l?.mean),
      fmt(l?.p50),
      fmt(l?.p95),
      fmt(l?.p99),
      fmt(l?.min),
      fmt(l?.max),
      fmt(first?.p50),
      fmt(t.throughput.requestsPerSecond, 2),
      pct(t.errorRate),
      errorSummary(t),
      usd(t.cost.perRequestUsd),
    ];
  });
  return table(headers, rows);
}

const CSV_COLUMNS = [
  'target',
  'kind',
  'url',
  'api',
  'model',
  'stream',
  'sent',
  'ok',
  'failed',
  'error_rate',
  'mean_ms',
  'p50_ms',
  'p90_ms',
  'p95_ms',
  'p99_ms',
  'min_ms',
  'max_ms',
  'ttfb_p50_ms',
  'ttft_p50_ms',
  'requests_per_second',
  'output_tokens_per_second',
  'cost_per_request_usd',
  'cost_source',
  'errors',
  'providers',
] as const;

function csvCell(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per target; errors and providers as `kind:count;kind:count`. */
export function toCsv(run: BenchRun): string {
  const d = (x: Distribution | null | undefined, k: keyof Distribution) => (x ? x[k] : '');
  const rows = run.targets.map((t) => [
    t.name,
    t.kind,
    t.url,
    t.api,
    t.model ?? '',
    t.stream,
    t.requests.sent,
    t.requests.ok,
    t.requests.failed,
    t.errorRate,
    d(t.latencyMs, 'mean'),
    d(t.latencyMs, 'p50'),
    d(t.latencyMs, 'p90'),
    d(t.latencyMs, 'p95'),
    d(t.latencyMs, 'p99'),
    d(t.latencyMs, 'min'),
    d(t.latencyMs, 'max'),
    d(t.firstByteMs, 'p50'),
    d(t.firstTokenMs, 'p50'),
    t.throughput.requestsPerSecond,
    t.throughput.outputTokensPerSecond ?? '',
    t.cost.perRequestUsd ?? '',
    t.cost.source,
    Object.entries(t.errors).map(([k, n]) => `${k}:${n}`).join(';'),
    Object.entries(t.providers).map(([k, n]) => `${k}:${n}`).join(';'),
  ]);
  return [CSV_COLUMNS.join(','), ...rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}

/** Settings that make two runs' figures not directly comparable. */
export function settingDifferences(a: BenchRun, b: BenchRun): string[] {
  const out: string[] = [];
  const keys = ['requests', 'concurrency', 'rate', 'warmup', 'stream', 'payloadSource'] as const;
  for (const k of keys) if (JSON.stringify(a.settings[k]) !== JSON.stringify(b.settings[k])) out.push(`${k}: ${JSON.stringify(a.settings[k])} → ${JSON.stringify(b.settings[k])}`);
  if (JSON.stringify(a.settings.payload) !== JSON.stringify(b.settings.payload)) out.push('payload differs');
  if (a.machine.hostname !== b.machine.hostname || a.machine.cpuModel !== b.machine.cpuModel) out.push(`machine: ${a.machine.hostname} (${a.machine.cpuModel}) → ${b.machine.hostname} (${b.machine.cpuModel})`);
  return out;
}

export interface ComparisonRow {
  target: string;
  run: number;
  file: string;
  sent: number;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  errorRate: number;
  requestsPerSecond: number;
  costPerRequestUsd: number | null;
  /** Relative change against the same target in the first run that has it (0.1 = 10 % higher). */
  change: { p50: number | null; p95: number | null; errorRate: number | null; costPerRequestUsd: number | null } | null;
}

const rel = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined || b === null || b === undefined || a === 0 ? null : (b - a) / a);

/** Every target of every run, with its change against the first run that measured the same target name. */
export function compareRuns(runs: { file: string; run: BenchRun }[]): ComparisonRow[] {
  const names = [...new Set(runs.flatMap((r) => r.run.targets.map((t) => t.name)))];
  const rows: ComparisonRow[] = [];
  for (const name of names) {
    let first: TargetResult | undefined;
    runs.forEach(({ file, run }, i) => {
      const t = run.targets.find((x) => x.name === name);
      if (!t || t.fatal) return;
      const change = first
        ? {
            p50: rel(first.latencyMs?.p50, t.latencyMs?.p50),
            p95: rel(first.latencyMs?.p95, t.latencyMs?.p95),
            errorRate: t.errorRate - first.errorRate,
            costPerRequestUsd: rel(first.cost.perRequestUsd, t.cost.perRequestUsd),
          }
        : null;
      first ??= t;
      rows.push({
        target: name,
        run: i + 1,
        file,
        sent: t.requests.sent,
        mean: t.latencyMs?.mean ?? null,
        p50: t.latencyMs?.p50 ?? null,
        p95: t.latencyMs?.p95 ?? null,
        p99: t.latencyMs?.p99 ?? null,
        errorRate: t.errorRate,
        requestsPerSecond: t.throughput.requestsPerSecond,
        costPerRequestUsd: t.cost.perRequestUsd,
        change,
      });
    });
  }
  return rows;
}

const signed = (x: number | null, asPoints = false) => (x === null ? '' : `${x >= 0 ? '+' : ''}${asPoints ? (100 * x).toFixed(1) + ' pt' : (100 * x).toFixed(1) + '%'}`);

export function comparisonTable(rows: ComparisonRow[]): string {
  return table(
    ['target', 'run', 'sent', 'avg ms', 'P50', 'P95', 'P99', 'errors', 'req/s', '$/request', 'ΔP50', 'ΔP95', 'Δerrors', 'Δ$'],
    rows.map((r) => [
      r.target,
      String(r.run),
      String(r.sent),
      fmt(r.mean),
      fmt(r.p50),
      fmt(r.p95),
      fmt(r.p99),
      pct(r.errorRate),
      fmt(r.requestsPerSecond, 2),
      usd(r.costPerRequestUsd),
      signed(r.change?.p50 ?? null),
      signed(r.change?.p95 ?? null),
      signed(r.change?.errorRate ?? null, true),
      signed(r.change?.costPerRequestUsd ?? null),
    ]),
  );
}
