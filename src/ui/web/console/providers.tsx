/** Providers panel (`/admin/providers`): circuit state, error rate, latency and cost per provider, and failovers. */
import { ChartBox } from '../chart.tsx';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import { Problem } from './widgets.tsx';

interface ProviderRow {
  name: string;
  type: string;
  circuit: { state: string; opens: number };
  requests: number;
  errorRate: number;
  availability: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  costUsd: number;
}

export function ProvidersPage() {
  const { data, error } = useData<{ windowSeconds?: number; providers: ProviderRow[] }>('/api/providers', 5000);
  const fo = useData<{ failovers: { from: string; to: string; count: number }[] }>('/api/console/failovers', 5000);
  return (
    <>
      <h1>Providers</h1>
      <Problem error={error} />
      {data && data.providers.length === 0 && <p>No providers file is configured: every call runs on the local engine (README: Router).</p>}
      {data && data.providers.length > 0 && (
        <>
          <div class="scroll">
            <table data-testid="providers">
              <caption>Providers (last {data.windowSeconds ?? 300} s)</caption>
              <thead>
                <tr>
                  <th scope="col">Provider</th>
                  <th scope="col">Type</th>
                  <th scope="col">Circuit</th>
                  <th scope="col" class="num">Requests</th>
                  <th scope="col" class="num">Error rate</th>
                  <th scope="col" class="num">Availability</th>
                  <th scope="col" class="num">P50</th>
                  <th scope="col" class="num">P95</th>
                  <th scope="col" class="num">P99</th>
                  <th scope="col" class="num">Cost</th>
                </tr>
              </thead>
              <tbody>
                {data.providers.map((p) => (
                  <tr key={p.name}>
                    <th scope="row">{p.name}</th>
                    <td>{p.type}</td>
                    <td>
                      {p.circuit.state} ({p.circuit.opens} opens)
                    </td>
                    <td class="num">{p.requests}</td>
                    <td class="num">{fmt.pct(p.errorRate)}</td>
                    <td class="num">{fmt.pct(p.availability)}</td>
                    <td class="num">{fmt.ms(p.p50Ms)}</td>
                    <td class="num">{fmt.ms(p.p95Ms)}</td>
                    <td class="num">{fmt.ms(p.p99Ms)}</td>
                    <td class="num">{fmt.usd(p.costUsd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ChartBox
            id="provlat"
            title="Latency percentiles by provider (ms)"
            horizontal
            labels={data.providers.map((p) => p.name)}
            series={[
              { label: 'P50', values: data.providers.map((p) => p.p50Ms) },
              { label: 'P95', values: data.providers.map((p) => p.p95Ms) },
              { label: 'P99', values: data.providers.map((p) => p.p99Ms) },
            ]}
            format={fmt.ms}
          />
        </>
      )}
      {fo.data && (
        <table>
          <caption>Failovers since start</caption>
          <thead>
            <tr>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col" class="num">Calls</th>
            </tr>
          </thead>
          <tbody>
            {fo.data.failovers.length === 0 && (
              <tr>
                <td colSpan={3}>None.</td>
              </tr>
            )}
            {fo.data.failovers.map((f) => (
              <tr key={`${f.from}-${f.to}`}>
                <td>{f.from}</td>
                <td>{f.to}</td>
                <td class="num">{f.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
