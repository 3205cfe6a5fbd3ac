/**
 * The HTML report: one self-contained file (Chart.js inlined, the results embedded as JSON), so it opens from disk
 * with no network. One chart per figure: latency percentiles (the main chart, also the PNG), latency distribution,
 * latency over time, time to first byte/token, error breakdown, throughput and cost per request.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { errorSummary, fmt, pct, usd } from './format.ts';
import type { BenchRun } from './result.ts';

const require = createRequire(import.meta.url);

/** Chart.js's UMD build, read from the installed package. */
export function chartJsSource(): string {
  let entry: string;
  try {
    entry = require.resolve('chart.js');
  } catch {
    throw new Error('the HTML report needs the chart.js package: run `npm ci` in the modelhost folder');
  }
  const src = readFileSync(path.join(path.dirname(entry), 'chart.umd.min.js'), 'utf8');
  // Inside a <script> element, "</script" would end it early; "<\/script" means the same to JavaScript.
  return src.replace(/<\/script/gi, '<\\/script');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON safe inside a <script> element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

/** The charts a run gets, in page order: id, title, what it shows. The first one is the main chart (PNG). */
export function chartList(run: BenchRun): { id: string; title: string; caption: string }[] {
  const measured = run.targets.filter((t) => !t.fatal);
  const stream = run.settings.stream;
  const list = [
    { id: 'chart-percentiles', title: 'Latency percentiles', caption: 'Mean, P50, P95 and P99 of successful requests, ms (lower is better).' },
    { id: 'chart-distribution', title: 'Latency distribution', caption: 'How many successful requests took how long, per target (same buckets for every target).' },
    { id: 'chart-timeline', title: 'Latency over the run', caption: 'Each request at the time it was due; failures are shown as crosses.' },
    {
      id: 'chart-first',
      title: stream ? 'Time to first token' : 'Time to first byte',
      caption: stream ? 'P50 and P95 of the time to the first streamed token, ms.' : 'P50 and P95 of the time to the first byte of the answer body, ms.',
    },
    { id: 'chart-errors', title: 'Errors by kind', caption: 'Failed requests per target, by kind (HTTP status class, timeout, connection, stream).' },
    { id: 'chart-throughput', title: 'Throughput', caption: 'Finished and successful requests per second of the measured phase.' },
  ];
  if (measured.some((t) => (t.cost.perRequestUsd ?? 0) > 0)) list.push({ id: 'chart-cost', title: 'Cost per request', caption: 'Mean cost of one request, USD (where known; the table says where each figure comes from).' });
  return list;
}

const CLIENT = String.raw`
(function () {
  const run = JSON.parse(document.getElementById('bench-data').textContent);
  const targets = run.targets.filter((t) => !t.fatal);
  const palette = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
  const color = (i, a) => { const c = palette[i % palette.length]; return a === undefined ? c : c + a; };
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif';
  const names = targets.map((t) => t.name);
  const ms = (label) => ({ title: { display: true, text: label } });
  const made = [];
  const make = (id, config) => {
    const el = document.getElementById(id);
    if (el) made.push(new Chart(el, config));
  };
  const d = (t, fig, k) => (t[fig] ? t[fig][k] : null);

  make('chart-percentiles', {
    type: 'bar',
    data: {
      labels: names,
      datasets: [['mean', 'mean'], ['P50', 'p50'], ['P95', 'p95'], ['P99', 'p99']].map(([label, k], i) => ({
        label, data: targets.map((t) => d(t, 'latencyMs', k)), backgroundColor: color(i),
      })),
    },
    options: { scales: { y: { beginAtZero: true, ...ms('ms') } }, plugins: { title: { display: true, text: 'Latency percentiles (ms)' } } },
  });

  const bounds = targets.length ? targets[0].histogram.boundsMs : [];
  make('chart-distribution', {
    type: 'bar',
    data: {
      labels: bounds.map((b, i) => (i === 0 ? '≤ ' : '') + b + ' ms'),
      datasets: targets.map((t, i) => ({ label: t.name, data: t.histogram.counts, backgroundColor: color(i, 'b0') })),
    },
    options: { scales: { x: ms('latency (bucket upper bound)'), y: { beginAtZero: true, title: { display: true, text: 'requests' } } } },
  });

  make('chart-timeline', {
    type: 'scatter',
    data: {
      datasets: targets.flatMap((t, i) => [
        { label: t.name, data: t.samples.filter((s) => s.ok).map((s) => ({ x: s.at / 1000, y: s.ms })), backgroundColor: color(i), pointRadius: 3 },
        { label: t.name + ' (failed)', data: t.samples.filter((s) => !s.ok).map((s) => ({ x: s.at / 1000, y: s.ms })), borderColor: color(i), backgroundColor: color(i), pointStyle: 'crossRot', pointRadius: 6, borderWidth: 2 },
      ]).filter((ds) => ds.data.length > 0),
    },
    options: { scales: { x: { title: { display: true, text: 'seconds into the run' } }, y: { beginAtZero: true, ...ms('ms') } } },
  });

  const firstFig = run.settings.stream ? 'firstTokenMs' : 'firstByteMs';
  make('chart-first', {
    type: 'bar',
    data: { labels: names, datasets: [['P50', 'p50'], ['P95', 'p95']].map(([label, k], i) => ({ label, data: targets.map((t) => d(t, firstFig, k)), backgroundColor: color(i + 1) })) },
    options: { scales: { y: { beginAtZero: true, ...ms('ms') } } },
  });

  const kinds = [...new Set(targets.flatMap((t) => Object.keys(t.errors)))];
  const okSet = { label: 'ok', data: targets.map((t) => t.requests.ok), backgroundColor: '#16a34a55' };
  make('chart-errors', {
    type: 'bar',
    data: {
      labels: names,
      datasets: [okSet, ...kinds.map((k, i) => ({ label: k, data: targets.map((t) => t.errors[k] || 0), backgroundColor: color(i + 1) }))],
    },
    options: {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'requests' } } },
      plugins: { title: { display: true, text: kinds.length ? 'Failed requests by kind (ok shown for scale)' : 'No failed requests' } },
    },
  });

  make('chart-throughput', {
    type: 'bar',
    data: {
      labels: names,
      datasets: [
        { label: 'requests/s', data: targets.map((t) => t.throughput.requestsPerSecond), backgroundColor: color(0) },
        { label: 'successful/s', data: targets.map((t) => t.throughput.okPerSecond), backgroundColor: color(2) },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'per second' } } } },
  });

  make('chart-cost', {
    type: 'bar',
    data: { labels: names, datasets: [{ label: 'USD per request', data: targets.map((t) => t.cost.perRequestUsd), backgroundColor: targets.map((_, i) => color(i)) }] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'USD' } } } },
  });

  document.body.dataset.charts = String(made.length);
  document.body.dataset.ready = 'true';
})();
`;

export function renderHtml(run: BenchRun): string {
  const charts = chartList(run);
  const s = run.settings;
  const title = `modelhost bench: ${run.targets.map((t) => t.name).join(' vs ')}`;
  const load = s.rate === null ? `closed loop, concurrency ${s.concurrency}` : `open loop at ${s.rate} req/s (latency from the scheduled time), at most ${s.concurrency} in flight`;
  const rows = run.targets
    .map((t) => {
      if (t.fatal) return `<tr><th scope="row">${esc(t.name)}</th><td colspan="11" class="bad">not measured: ${esc(t.fatal)}</td></tr>`;
      const l = t.latencyMs;
      const first = s.stream ? t.firstTokenMs : t.firstByteMs;
      return `<tr><th scope="row">${esc(t.name)}</th><td>${t.requests.ok}/${t.requests.sent}</td><td>${fmt(l?.mean)}</td><td>${fmt(l?.p50)}</td><td>${fmt(l?.p95)}</td><td>${fmt(
        l?.p99,
      )}</td><td>${fmt(l?.min)}</td><td>${fmt(l?.max)}</td><td>${fmt(first?.p50)}</td><td>${fmt(t.throughput.requestsPerSecond, 2)}</td><td>${pct(t.errorRate)}<br><small>${esc(
        errorSummary(t),
      )}</small></td><td>${esc(usd(t.cost.perRequestUsd))}<br><small>${esc(t.cost.source)}</small></td></tr>`;
    })
    .join('\n');
  const targetsInfo = run.targets
    .map(
      (t) =>
        `<li><b>${esc(t.name)}</b>: ${esc(t.kind)}, POST <code>${esc(t.url)}</code> (${t.api === 'openai' ? 'OpenAI API' : 'Hugging Face API'}${t.model ? `, model <code>${esc(t.model)}</code>` : ''}${
          t.tokenEnv ? `, token from ${esc(t.tokenEnv)}` : ''
        })${Object.keys(t.providers).length ? `; answered by ${esc(Object.entries(t.providers).map(([p, n]) => `${p} ×${n}`).join(', '))}` : ''}</li>`,
    )
    .join('\n');
  const examples = run.targets
    .filter((t) => t.examples.length)
    .map(
      (t) =>
        `<details><summary>${esc(t.name)}: ${t.examples.length} example answer(s)</summary>${t.examples
          .map((e) => `<p>${e.ok ? 'ok' : `failed (${esc(e.error ?? '')})`}, HTTP ${e.status ?? '-'}, ${fmt(e.ms)} ms${e.provider ? `, ${esc(e.provider)}` : ''}</p><pre>${esc(e.body)}${e.truncated ? '\n…' : ''}</pre>`)
          .join('')}</details>`,
    )
    .join('\n');
  const figures = charts
    .map(
      (c) => `<figure id="fig-${c.id.slice('chart-'.length)}" class="chart"><h2>${esc(c.title)}</h2><div class="canvas"><canvas id="${c.id}" role="img" aria-label="${esc(c.title)}"></canvas></div><figcaption>${esc(
        c.caption,
      )}</figcaption></figure>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
  main { max-width: 1100px; margin: 0 auto; padding: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 8px; }
  .meta { color: #4b5563; margin: 0 0 16px; }
  table { border-collapse: collapse; width: 100%; background: #fff; margin: 12px 0 20px; font-variant-numeric: tabular-nums; }
  th, td { border-bottom: 1px solid #e5e7eb; padding: 6px 8px; text-align: right; vertical-align: top; }
  th:first-child, td:first-child { text-align: left; } thead th { background: #f3f4f6; }
  .bad { color: #b91c1c; text-align: left; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 16px; }
  figure.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; margin: 0; padding: 14px; }
  #fig-percentiles { grid-column: 1 / -1; }
  .canvas { position: relative; height: 300px; }
  figcaption { color: #4b5563; font-size: 13px; margin-top: 6px; }
  pre { background: #f3f4f6; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; max-height: 240px; }
  code { font-size: 13px; } small { color: #6b7280; }
  details { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
</style>
</head>
<body>
<main>
<header id="share-title">
<h1>${esc(title)}</h1>
<p class="meta">${esc(run.startedAt)} · ${s.requests} requests per target, ${esc(load)}${s.warmup ? `, ${s.warmup} warm-up` : ''}${s.stream ? ', streamed' : ''} · payload ${esc(s.payloadSource)}</p>
</header>
<table>
<thead><tr><th>target</th><th>ok/sent</th><th>avg ms</th><th>P50</th><th>P95</th><th>P99</th><th>min</th><th>max</th><th>${s.stream ? 'TTFT' : 'TTFB'} P50</th><th>req/s</th><th>errors</th><th>$/request</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<section class="charts">
${figures}
</section>
<h2 style="margin-top:20px">Targets</h2>
<ul>
${targetsInfo}
</ul>
<h2>Examples</h2>
${examples || '<p>No answers were kept.</p>'}
<h2>Settings and machine</h2>
<pre>${esc(JSON.stringify({ command: run.command, settings: run.settings, machine: run.machine, versions: run.versions }, null, 2))}</pre>
<p class="meta">Latency: successful requests, from ${s.rate === null ? 'the send' : 'the scheduled time'} to the last byte; percentiles from an HDR histogram (hdr-histogram-js, 3 significant digits). Costs: ${esc(
    [...new Set(run.targets.map((t) => t.cost.note).filter(Boolean))].join(' / ') || 'none known',
  )}.</p>
</main>
<script id="bench-data" type="application/json">${scriptJson(run)}</script>
<script>${chartJsSource()}</script>
<script>${CLIENT}</script>
</body>
</html>
`;
}
