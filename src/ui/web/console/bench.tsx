/** Bench reports panel (`/admin/bench`): the result files of `modelhost bench` and `npm run bench:*`, one charted at a time. */
import { useState } from 'preact/hooks';
import { ChartBox } from '../chart.tsx';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import { Problem } from './widgets.tsx';

export function BenchPage() {
  const list = useData<{ dir: string; files: { name: string; bytes: number; modified: string }[] }>('/api/console/bench');
  const [name, setName] = useState<string>();
  const report = useData<{ name: string; schema: string | null; startedAt: string | null; rows: { path: string; figures: Record<string, number> }[] }>(name ? `/api/console/bench/${encodeURIComponent(name)}` : null);
  return (
    <>
      <h1>Bench reports</h1>
      <Problem error={list.error} />
      {list.data && (
        <>
          <p class="muted">From {list.data.dir} (written by modelhost bench and npm run bench:*).</p>
          <div class="scroll">
            <table data-testid="bench">
              <caption>Results ({list.data.files.length})</caption>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Written</th>
                  <th scope="col" class="num">Size</th>
                </tr>
              </thead>
              <tbody>
                {list.data.files.length === 0 && (
                  <tr>
                    <td colSpan={3}>No results yet: run a benchmark (README: Benchmark).</td>
                  </tr>
                )}
                {list.data.files.map((f) => (
                  <tr key={f.name}>
                    <th scope="row">
                      <button type="button" class="link" onClick={() => setName(f.name)}>
                        {f.name}
                      </button>
                    </th>
                    <td>{fmt.time(f.modified)}</td>
                    <td class="num">{fmt.bytes(f.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <Problem error={report.error} />
      {name && report.data && report.data.name === name && (
        <section aria-labelledby="rep-h">
          <h2 id="rep-h">{name}</h2>
          <p>
            {report.data.schema ? `Schema ${report.data.schema}. ` : ''}
            {report.data.startedAt ? `Started ${fmt.time(report.data.startedAt)}.` : ''}
          </p>
          {report.data.rows.length === 0 ? (
            <p>No latency distributions found in this file.</p>
          ) : (
            <ChartBox
              id="bench"
              title="Latency (ms)"
              horizontal
              labels={report.data.rows.map((r) => r.path)}
              series={[
                { label: 'P50', values: report.data.rows.map((r) => r.figures.p50 ?? null) },
                { label: 'P95', values: report.data.rows.map((r) => r.figures.p95 ?? null) },
                { label: 'Mean', values: report.data.rows.map((r) => r.figures.mean ?? null) },
              ]}
              format={fmt.ms}
            />
          )}
        </section>
      )}
    </>
  );
}
