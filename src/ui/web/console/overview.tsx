/** Overview panel (`/admin`, `/admin/overview`): key figures, requests and latency per minute, top models and tokens. */
import { useState } from 'preact/hooks';
import { ChartBox } from '../chart.tsx';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import { Kpi, Problem, hhmm } from './widgets.tsx';

interface Overview {
  kpis: {
    requestsPerSecond: number;
    requests: number;
    p50: number | null;
    p95: number | null;
    p99: number | null;
    errorRate: number;
    modelsLoaded: number;
    modelsTotal: number;
    memoryUsedBytes: number;
    memoryRssBytes: number;
    costTodayUsd: number | null;
  };
  series: { minute: string; ok: number; clientErrors: number; serverErrors: number; loading: number; p50: number | null; p95: number | null; p99: number | null }[];
  topModels: { model: string; requests: number; costUsd: number }[];
  topTokens: { token: string; requests: number; costUsd: number }[];
}

export function OverviewPage() {
  const [minutes, setMinutes] = useState(60);
  const [auto, setAuto] = useState(true);
  const { data, error } = useData<Overview>(`/api/console/overview?minutes=${minutes}`, auto ? 5000 : 0, [auto]);
  const k = data?.kpis;
  return (
    <>
      <h1>Overview</h1>
      <form class="row" onSubmit={(e) => e.preventDefault()}>
        <label>
          Range
          <select value={minutes} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
            <option value={15}>Last 15 minutes</option>
            <option value={60}>Last hour</option>
            <option value={360}>Last 6 hours</option>
            <option value={1440}>Last 24 hours</option>
          </select>
        </label>
        <label class="inline">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto((e.target as HTMLInputElement).checked)} /> Refresh every 5 s
        </label>
      </form>
      <Problem error={error} />
      {k && (
        <ul class="kpis" aria-label="Key figures" data-testid="kpis">
          <Kpi k="Requests/s (5 min)" v={k.requestsPerSecond.toFixed(2)} />
          <Kpi k="Requests in range" v={String(k.requests)} />
          <Kpi k="P50" v={fmt.ms(k.p50)} />
          <Kpi k="P95" v={fmt.ms(k.p95)} />
          <Kpi k="P99" v={fmt.ms(k.p99)} />
          <Kpi k="Error rate" v={fmt.pct(k.errorRate)} />
          <Kpi k="Models loaded" v={`${k.modelsLoaded} / ${k.modelsTotal}`} />
          <Kpi k="Model memory (est.)" v={fmt.bytes(k.memoryUsedBytes)} />
          <Kpi k="Process memory (RSS)" v={fmt.bytes(k.memoryRssBytes)} />
          <Kpi k="Cost today" v={fmt.usd(k.costTodayUsd)} />
        </ul>
      )}
      {data && (
        <>
          <ChartBox
            id="requests"
            title="Requests per minute by status"
            stacked
            labels={data.series.map((s) => hhmm(s.minute))}
            series={[
              { label: 'OK', values: data.series.map((s) => s.ok), colour: '#2f8f5b' },
              { label: 'Loading (503)', values: data.series.map((s) => s.loading), colour: '#6b3fb8' },
              { label: '4xx', values: data.series.map((s) => s.clientErrors), colour: '#c77c00' },
              { label: '5xx', values: data.series.map((s) => s.serverErrors), colour: '#b3261e' },
            ]}
            format={(v) => String(v ?? 0)}
          />
          <ChartBox
            id="latency"
            title="Latency percentiles per minute (ms)"
            labels={data.series.map((s) => hhmm(s.minute))}
            series={[
              { label: 'P50', values: data.series.map((s) => s.p50), kind: 'line' },
              { label: 'P95', values: data.series.map((s) => s.p95), kind: 'line' },
              { label: 'P99', values: data.series.map((s) => s.p99), kind: 'line' },
            ]}
            format={(v) => fmt.ms(v)}
          />
          {data.topModels.length > 0 && (
            <ChartBox id="topmodels" title="Top models today (requests)" horizontal labels={data.topModels.map((m) => m.model)} series={[{ label: 'Requests', values: data.topModels.map((m) => m.requests) }]} />
          )}
          {data.topTokens.length > 0 && (
            <ChartBox id="toptokens" title="Top tokens today (requests)" horizontal labels={data.topTokens.map((m) => m.token)} series={[{ label: 'Requests', values: data.topTokens.map((m) => m.requests) }]} />
          )}
        </>
      )}
    </>
  );
}
