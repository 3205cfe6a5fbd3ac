/** Models panel (`/admin/models`): hosted models with their state, memory and latency; preload and unload. */
import { useState } from 'preact/hooks';
import { ChartBox } from '../chart.tsx';
import { fmt } from '../lib.ts';
import { api, useData } from './api.ts';
import { Problem } from './widgets.tsx';

interface ModelRow {
  id: string;
  task: string;
  runtime: string;
  state: string;
  queued: number;
  memoryBytes: number;
  sizeBytes: number;
  lastUsed: string | null;
  requests: number;
  errors: number;
  p50: number | null;
  p95: number | null;
}

export function ModelsPage() {
  const { data, error, reload } = useData<{ meanBatchSize: number | null; models: ModelRow[] }>('/api/console/models', 5000);
  const [busy, setBusy] = useState('');
  const [msg, setMsg] = useState('');
  const act = async (id: string, action: 'preload' | 'unload') => {
    setBusy(id);
    try {
      const r = await api<{ state: string }>(`/api/console/models/${id}/${action}`, { method: 'POST' });
      setMsg(`${id}: ${action === 'preload' ? 'loaded' : 'unloaded'} (state ${r.state}).`);
    } catch (e) {
      setMsg(`${id}: ${(e as Error).message}`);
    } finally {
      setBusy('');
      reload();
    }
  };
  return (
    <>
      <h1>Models</h1>
      <Problem error={error} />
      <p role="status">{msg}</p>
      {data && (
        <>
          <p>Mean batch size since start: {data.meanBatchSize === null ? '–' : data.meanBatchSize.toFixed(2)}</p>
          <div class="scroll">
            <table data-testid="models">
              <caption>Hosted models (requests and latency since this process started)</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Task</th>
                  <th scope="col">Runtime</th>
                  <th scope="col">State</th>
                  <th scope="col" class="num">Memory (est.)</th>
                  <th scope="col">Last used</th>
                  <th scope="col" class="num">Requests</th>
                  <th scope="col" class="num">Errors</th>
                  <th scope="col" class="num">P95</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {data.models.map((m) => (
                  <tr key={m.id}>
                    <th scope="row">
                      <a href={`/spaces/${m.id}`}>{m.id}</a>
                    </th>
                    <td>{m.task}</td>
                    <td>{m.runtime}</td>
                    <td>{m.state}</td>
                    <td class="num">{m.memoryBytes ? fmt.bytes(m.memoryBytes) : '–'}</td>
                    <td>{fmt.time(m.lastUsed)}</td>
                    <td class="num">{m.requests}</td>
                    <td class="num">{m.errors}</td>
                    <td class="num">{fmt.ms(m.p95)}</td>
                    <td>
                      <button type="button" disabled={busy === m.id || m.state === 'ready'} onClick={() => act(m.id, 'preload')} aria-label={`Preload ${m.id}`}>
                        Preload
                      </button>{' '}
                      <button type="button" disabled={busy === m.id || m.state === 'unloaded'} onClick={() => act(m.id, 'unload')} aria-label={`Unload ${m.id}`}>
                        Unload
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ChartBox id="p95" title="P95 latency by model (ms)" horizontal labels={data.models.map((m) => m.id)} series={[{ label: 'P95 (ms)', values: data.models.map((m) => m.p95) }]} format={fmt.ms} />
        </>
      )}
    </>
  );
}
