/**
 * Dedicated endpoints panel (`/admin/endpoints`): the caller's endpoints, refreshed every 5 s, with pause,
 * resume and scale to zero, and for the selected one its replicas (now and over time), metrics, last log lines
 * and JSON. A custom server endpoint also shows its command line (its secrets are names only, and redacted from
 * the logs by the server).
 */
import { useEffect, useState } from 'preact/hooks';
import { ChartBox } from '../chart.tsx';
import { HttpError } from '../lib.ts';
import { api } from './api.ts';
import { hhmm } from './widgets.tsx';

interface Endpoint {
  name: string;
  type?: string;
  model?: { repository?: string; task?: string; image?: { custom?: { command?: string; args?: string[]; api?: string } } };
  compute?: { scaling?: { minReplica?: number; maxReplica?: number; scaleToZeroTimeout?: number } };
  status?: { state?: string; message?: string; readyReplica?: number; targetReplica?: number; url?: string; createdAt?: string };
}

interface ReplicaRow {
  id: string;
  state: string;
  pid: number | null;
  inFlight: number;
  rssMb: number;
  port?: number;
}

const LOG_TAIL = 50;

export function EndpointsPage() {
  const [namespace, setNamespace] = useState<string>();
  const [problem, setProblem] = useState('');
  const [items, setItems] = useState<Endpoint[]>([]);
  const [selected, setSelected] = useState<string>();
  const [history, setHistory] = useState<Record<string, { at: string; ready: number; target: number }[]>>({});
  const [metrics, setMetrics] = useState<{ replicaList?: ReplicaRow[] } & Record<string, unknown>>();
  const [logs, setLogs] = useState('');
  const [msg, setMsg] = useState('');

  const load = async (ns: string) => {
    try {
      const r = await api<{ items: Endpoint[] }>(`/api/endpoints/${encodeURIComponent(ns)}`);
      setItems(r.items ?? []);
      setProblem('');
      const at = new Date().toISOString();
      setHistory((h) => {
        const next = { ...h };
        for (const e of r.items ?? []) next[e.name] = [...(next[e.name] ?? []), { at, ready: e.status?.readyReplica ?? 0, target: e.status?.targetReplica ?? 0 }].slice(-120);
        return next;
      });
    } catch (e) {
      setItems([]);
      setProblem(e instanceof HttpError && e.status === 404 ? 'Dedicated endpoints are not available on this server yet (GET /api/endpoints answered 404).' : (e as Error).message);
    }
  };
  useEffect(() => {
    api<{ name?: string }>('/api/whoami-v2').then(
      (w) => setNamespace(w.name ?? 'default'),
      (e: Error) => {
        setProblem(e instanceof HttpError && e.status === 404 ? 'Dedicated endpoints are not available on this server yet (GET /api/whoami-v2 answered 404).' : e.message);
        setNamespace(undefined);
      },
    );
  }, []);
  useEffect(() => {
    if (!namespace) return;
    void load(namespace);
    const t = setInterval(() => void load(namespace), 5000);
    return () => clearInterval(t);
  }, [namespace]);
  useEffect(() => {
    if (!namespace || !selected) return;
    const base = `/api/endpoints/${encodeURIComponent(namespace)}/${encodeURIComponent(selected)}`;
    const get = () => api<typeof metrics>(`${base}/metrics`).then(setMetrics, (e: Error) => setMetrics({ error: e.message }));
    // Refreshed with the list (every 5 s and after each action).
    void get();
    void api<string>(`${base}/logs?tail=${LOG_TAIL}`).then((t) => setLogs(typeof t === 'string' ? t : ''), (e: Error) => setLogs(`(logs unavailable: ${e.message})`));
  }, [selected, namespace, items]);
  const action = async (name: string, what: 'pause' | 'resume' | 'scale-to-zero') => {
    try {
      await api(`/api/endpoints/${encodeURIComponent(namespace!)}/${encodeURIComponent(name)}/${what}`, { method: 'POST' });
      setMsg(`${name}: ${what} sent.`);
      await load(namespace!);
    } catch (e) {
      setMsg(`${name}: ${(e as Error).message}`);
    }
  };
  const sel = items.find((e) => e.name === selected);
  const h = selected ? (history[selected] ?? []) : [];
  return (
    <>
      <h1>Dedicated endpoints</h1>
      {namespace && <p>Namespace: {namespace}</p>}
      {problem && <p class="warn">{problem}</p>}
      <p role="status">{msg}</p>
      <div class="scroll">
        <table data-testid="endpoints">
          <caption>Endpoints ({items.length})</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Model</th>
              <th scope="col">Task</th>
              <th scope="col" class="num">Replicas (ready / target)</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.length === 0 && (
              <tr>
                <td colSpan={6}>No dedicated endpoints.</td>
              </tr>
            )}
            {items.map((e) => (
              <tr key={e.name}>
                <th scope="row">
                  <button type="button" class="link" onClick={() => setSelected(e.name)} aria-label={`Details of ${e.name}`}>
                    {e.name}
                  </button>
                </th>
                <td>{e.status?.state ?? '?'}</td>
                <td>{e.model?.repository ?? ''}</td>
                <td>{e.model?.task ?? ''}</td>
                <td class="num">
                  {e.status?.readyReplica ?? 0} / {e.status?.targetReplica ?? 0}
                </td>
                <td>
                  <button type="button" onClick={() => action(e.name, 'pause')} aria-label={`Pause ${e.name}`}>
                    Pause
                  </button>{' '}
                  <button type="button" onClick={() => action(e.name, 'resume')} aria-label={`Resume ${e.name}`}>
                    Resume
                  </button>{' '}
                  <button type="button" onClick={() => action(e.name, 'scale-to-zero')} aria-label={`Scale to zero ${e.name}`}>
                    Scale to zero
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sel && (
        <section aria-labelledby="ep-h">
          <h2 id="ep-h">{sel.name}</h2>
          <p>{sel.status?.message}</p>
          {sel.model?.image?.custom && (
            <p data-testid="custom-server">
              Server ({sel.model.image.custom.api} API): <code>{[sel.model.image.custom.command, ...(sel.model.image.custom.args ?? [])].join(' ')}</code>
            </p>
          )}
          <div class="scroll">
            <table data-testid="replicas">
              <caption>Replicas ({metrics?.replicaList?.length ?? 0})</caption>
              <thead>
                <tr>
                  <th scope="col">Replica</th>
                  <th scope="col">State</th>
                  <th scope="col" class="num">PID</th>
                  <th scope="col" class="num">Port</th>
                  <th scope="col" class="num">In flight</th>
                  <th scope="col" class="num">Memory (MB)</th>
                </tr>
              </thead>
              <tbody>
                {(metrics?.replicaList ?? []).map((r) => (
                  <tr key={r.id}>
                    <th scope="row">{r.id}</th>
                    <td>{r.state}</td>
                    <td class="num">{r.pid ?? ''}</td>
                    <td class="num">{r.port ?? ''}</td>
                    <td class="num">{r.inFlight}</td>
                    <td class="num">{r.rssMb}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ChartBox id="replicas" title="Replicas over time (sampled while this page is open)" labels={h.map((x) => hhmm(x.at))} series={[{ label: 'Ready', values: h.map((x) => x.ready), kind: 'line' }, { label: 'Target', values: h.map((x) => x.target), kind: 'line' }]} />
          <h3>Metrics</h3>
          <pre class="json" tabIndex={0} aria-label="Metrics JSON">{JSON.stringify(metrics ?? null, null, 2)}</pre>
          <h3>Logs (last {LOG_TAIL} lines)</h3>
          <pre class="json" tabIndex={0} aria-label="Endpoint logs" data-testid="endpoint-logs">{logs}</pre>
          <h3>JSON</h3>
          <pre class="json" tabIndex={0} aria-label="Endpoint JSON">{JSON.stringify(sel, null, 2)}</pre>
        </section>
      )}
    </>
  );
}
