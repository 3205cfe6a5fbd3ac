/** Usage and cost panel (`/admin/usage`): requests, errors, tokens and cost by day, token, model or provider; CSV export. */
import { useState } from 'preact/hooks';
import { ChartBox } from '../chart.tsx';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import type { TokenRow } from './tokens.tsx';
import { Problem } from './widgets.tsx';

interface UsageRow {
  token?: string | null;
  model?: string;
  provider?: string;
  day?: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  characters: number;
  audioSeconds: number;
  megapixels: number;
  computeMs: number;
  costUsd: number;
  avgLatencyMs: number;
}

function csv(rows: UsageRow[], by: string): string {
  const cols = [by, 'requests', 'errors', 'inputTokens', 'outputTokens', 'characters', 'audioSeconds', 'megapixels', 'computeMs', 'costUsd', 'avgLatencyMs'] as const;
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell((r as unknown as Record<string, unknown>)[c] ?? (c === 'token' ? 'anonymous' : ''))).join(','))].join('\n') + '\n';
}

export function UsagePage() {
  const [by, setBy] = useState<'day' | 'token' | 'model' | 'provider'>('day');
  const [from, setFrom] = useState(new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10));
  const [to, setTo] = useState('');
  const q = new URLSearchParams({ by, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  const { data, error } = useData<{ rows: UsageRow[] }>(`/api/usage?${q}`);
  const tokens = useData<{ tokens: TokenRow[] }>('/api/tokens');
  const names = new Map((tokens.data?.tokens ?? []).map((t) => [t.id, t.name]));
  const label = (r: UsageRow) => (by === 'token' ? (r.token ? `${names.get(r.token) ?? '?'} (${r.token})` : 'anonymous') : String(r[by] ?? ''));
  const rows = data?.rows ?? [];
  const download = () => {
    const blob = new Blob([csv(rows, by)], { type: 'text/csv' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `modelhost-usage-by-${by}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <>
      <h1>Usage and cost</h1>
      <form class="row" onSubmit={(e) => e.preventDefault()}>
        <label>
          Group by
          <select value={by} onChange={(e) => setBy((e.target as HTMLSelectElement).value as typeof by)}>
            <option value="day">Day</option>
            <option value="token">Token</option>
            <option value="model">Model</option>
            <option value="provider">Provider</option>
          </select>
        </label>
        <label>
          From
          <input type="date" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          To (exclusive)
          <input type="date" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" onClick={download} disabled={rows.length === 0}>
          Export CSV
        </button>
      </form>
      <Problem error={error} />
      {data && (
        <>
          <ChartBox
            id="usage"
            title={`Requests and errors by ${by}`}
            horizontal={by !== 'day'}
            labels={rows.map(label)}
            series={[
              { label: 'Requests', values: rows.map((r) => r.requests), kind: 'bar' },
              { label: 'Errors', values: rows.map((r) => r.errors), kind: 'bar', colour: '#b3261e' },
            ]}
          />
          <ChartBox id="cost" title={`Cost by ${by} (USD)`} horizontal={by !== 'day'} labels={rows.map(label)} series={[{ label: 'Cost (USD)', values: rows.map((r) => r.costUsd), kind: 'bar' }]} format={fmt.usd} />
          <div class="scroll">
            <table data-testid="usage">
              <caption>Usage by {by}</caption>
              <thead>
                <tr>
                  <th scope="col">{by}</th>
                  <th scope="col" class="num">Requests</th>
                  <th scope="col" class="num">Errors</th>
                  <th scope="col" class="num">Input tokens</th>
                  <th scope="col" class="num">Output tokens</th>
                  <th scope="col" class="num">Characters</th>
                  <th scope="col" class="num">Audio</th>
                  <th scope="col" class="num">Megapixels</th>
                  <th scope="col" class="num">Compute</th>
                  <th scope="col" class="num">Cost</th>
                  <th scope="col" class="num">Mean latency</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={i}>
                    <th scope="row">{label(r)}</th>
                    <td class="num">{r.requests}</td>
                    <td class="num">{r.errors}</td>
                    <td class="num">{r.inputTokens}</td>
                    <td class="num">{r.outputTokens}</td>
                    <td class="num">{r.characters}</td>
                    <td class="num">{`${(r.audioSeconds ?? 0).toFixed(1)} s`}</td>
                    <td class="num">{(r.megapixels ?? 0).toFixed(2)}</td>
                    <td class="num">{fmt.ms(r.computeMs)}</td>
                    <td class="num">{fmt.usd(r.costUsd)}</td>
                    <td class="num">{fmt.ms(r.avgLatencyMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
