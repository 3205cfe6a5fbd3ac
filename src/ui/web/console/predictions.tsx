/**
 * Predictions panel (`/admin/predictions`): the signed-in token's async predictions (README: Predictions and
 * webhooks) with their state and timings, newest first; one opened shows its webhook deliveries, attempt by attempt.
 */
import { useState } from 'preact/hooks';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import { Problem } from './widgets.tsx';

interface Attempt {
  event: string;
  at: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

interface Prediction {
  id: string;
  model: string;
  status: string;
  error: string | null;
  created_at: string;
  started_at?: string;
  completed_at?: string;
  metrics?: { predict_time?: number; total_time?: number };
  webhook?: string;
  webhook_delivery?: { state: string | null; attempts: Attempt[] };
}

const seconds = (s: number | undefined) => (s === undefined ? '–' : fmt.ms(s * 1000));

export function PredictionsPage() {
  const list = useData<{ results: Prediction[]; next: string | null }>('/v1/predictions', 3000);
  const [id, setId] = useState<string>();
  const one = useData<Prediction>(id ? `/v1/predictions/${encodeURIComponent(id)}` : null, 3000);
  return (
    <>
      <h1>Predictions</h1>
      <p class="muted">The signed-in token's predictions (POST /v1/predictions), newest first; they refresh every 3 s.</p>
      <Problem error={list.error} />
      {list.data && (
        <div class="scroll">
          <table data-testid="predictions">
            <caption>Predictions ({list.data.results.length}{list.data.next ? '+' : ''})</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col" class="num">Queued</th>
                <th scope="col" class="num">Run</th>
                <th scope="col">Webhook</th>
              </tr>
            </thead>
            <tbody>
              {list.data.results.length === 0 && (
                <tr>
                  <td colSpan={7}>No predictions yet.</td>
                </tr>
              )}
              {list.data.results.map((p) => (
                <tr key={p.id}>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => setId(p.id)}>
                      {p.id}
                    </button>
                  </th>
                  <td>{p.model}</td>
                  <td>{p.status}</td>
                  <td>{fmt.time(p.created_at)}</td>
                  <td class="num">{p.started_at ? fmt.ms(Date.parse(p.started_at) - Date.parse(p.created_at)) : '–'}</td>
                  <td class="num">{seconds(p.metrics?.predict_time)}</td>
                  <td>{p.webhook ? 'yes' : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Problem error={one.error} />
      {id && one.data && one.data.id === id && (
        <section aria-labelledby="pred-h">
          <h2 id="pred-h">{id}</h2>
          <p>
            {one.data.model}: {one.data.status}
            {one.data.error ? ` (${one.data.error})` : ''}. Total {seconds(one.data.metrics?.total_time)}.
          </p>
          {!one.data.webhook_delivery ? (
            <p>No webhook.</p>
          ) : (
            <div class="scroll">
              <table data-testid="deliveries">
                <caption>Webhook deliveries to {one.data.webhook} ({one.data.webhook_delivery.state ?? 'none yet'})</caption>
                <thead>
                  <tr>
                    <th scope="col">Event</th>
                    <th scope="col">At</th>
                    <th scope="col" class="num">Status</th>
                    <th scope="col" class="num">Took</th>
                    <th scope="col">Error</th>
                  </tr>
                </thead>
                <tbody>
                  {one.data.webhook_delivery.attempts.map((a, i) => (
                    <tr key={i}>
                      <th scope="row">{a.event}</th>
                      <td>{fmt.time(new Date(a.at).toISOString())}</td>
                      <td class="num">{a.status ?? '–'}</td>
                      <td class="num">{fmt.ms(a.durationMs)}</td>
                      <td>{a.error ?? ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
    </>
  );
}
