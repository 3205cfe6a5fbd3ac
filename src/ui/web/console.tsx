/**
 * The admin console (`/admin`): overview, models, dedicated endpoints, providers, tokens and tiers, usage and
 * cost, request log, bench reports. Every figure comes from admin-scoped routes; the admin token a person
 * pastes stays in this tab (sessionStorage) and goes only to this server.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ADMIN_TOKEN_KEY, HttpError, api as rawApi, fmt, saveToken, savedToken } from './lib.ts';
import { ChartBox } from './chart.tsx';
import './style.css';

const api = <T,>(path: string, init: RequestInit = {}) => rawApi<T>(path, init, ADMIN_TOKEN_KEY);

const PAGES = [
  ['overview', 'Overview'],
  ['models', 'Models'],
  ['endpoints', 'Dedicated endpoints'],
  ['providers', 'Providers'],
  ['tokens', 'Tokens and tiers'],
  ['usage', 'Usage and cost'],
  ['log', 'Request log'],
  ['bench', 'Bench reports'],
] as const;
type PageId = (typeof PAGES)[number][0];

function currentPage(): PageId {
  const seg = location.pathname.replace(/^\/admin\/?/, '').split('/')[0] || 'overview';
  return (PAGES.find((p) => p[0] === seg)?.[0] ?? 'overview') as PageId;
}

/** Loads `path` now and every `everyMs` (0: once); errors are kept for display. */
function useData<T>(path: string | null, everyMs = 0, deps: unknown[] = []): { data?: T; error?: HttpError | Error; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<HttpError | Error>();
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    const load = () =>
      api<T>(path).then(
        (d) => live && (setData(d), setError(undefined)),
        (e: Error) => live && setError(e),
      );
    void load();
    const t = everyMs ? setInterval(load, everyMs) : undefined;
    return () => {
      live = false;
      if (t) clearInterval(t);
    };
  }, [path, n, ...deps]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

function Problem({ error }: { error?: Error }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      {error.message}
    </p>
  );
}

function Kpi({ k, v }: { k: string; v: string }) {
  return (
    <li>
      <span class="k">{k}</span>
      <span class="v">{v}</span>
    </li>
  );
}

function hhmm(iso: string) {
  return new Date(iso).toISOString().slice(11, 16);
}

// --- Overview ------------------------------------------------------------------------------------------------

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

function OverviewPage() {
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

// --- Models --------------------------------------------------------------------------------------------------

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

function ModelsPage() {
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

// --- Dedicated endpoints -------------------------------------------------------------------------------------

interface Endpoint {
  name: string;
  type?: string;
  model?: { repository?: string; task?: string };
  compute?: { scaling?: { minReplica?: number; maxReplica?: number; scaleToZeroTimeout?: number } };
  status?: { state?: string; message?: string; readyReplica?: number; targetReplica?: number; url?: string; createdAt?: string };
}

function EndpointsPage() {
  const [namespace, setNamespace] = useState<string>();
  const [problem, setProblem] = useState('');
  const [items, setItems] = useState<Endpoint[]>([]);
  const [selected, setSelected] = useState<string>();
  const [history, setHistory] = useState<Record<string, { at: string; ready: number; target: number }[]>>({});
  const [metrics, setMetrics] = useState<unknown>();
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
    const get = () => api<unknown>(`/api/endpoints/${encodeURIComponent(namespace)}/${encodeURIComponent(selected)}/metrics`).then(setMetrics, (e: Error) => setMetrics({ error: e.message }));
    // Refreshed with the list (every 5 s and after each action).
    void get();
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
          <ChartBox id="replicas" title="Replicas over time (sampled while this page is open)" labels={h.map((x) => hhmm(x.at))} series={[{ label: 'Ready', values: h.map((x) => x.ready), kind: 'line' }, { label: 'Target', values: h.map((x) => x.target), kind: 'line' }]} />
          <h3>Metrics</h3>
          <pre class="json" tabIndex={0} aria-label="Metrics JSON">{JSON.stringify(metrics ?? null, null, 2)}</pre>
          <h3>JSON</h3>
          <pre class="json" tabIndex={0} aria-label="Endpoint JSON">{JSON.stringify(sel, null, 2)}</pre>
        </section>
      )}
    </>
  );
}

// --- Providers -----------------------------------------------------------------------------------------------

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

function ProvidersPage() {
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

// --- Tokens and tiers ----------------------------------------------------------------------------------------

interface TokenRow {
  id: string;
  name: string;
  owner: string;
  scopes: string[];
  tier: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

function TokensPage() {
  const tokens = useData<{ tokens: TokenRow[] }>('/api/tokens');
  const tiers = useData<{ tiers: Record<string, unknown>[] }>('/api/tiers');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['inference']);
  const [tier, setTier] = useState('');
  const [days, setDays] = useState('');
  const [created, setCreated] = useState<{ token: string; name: string }>();
  const [msg, setMsg] = useState('');
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api<{ token: string; name: string }>('/api/tokens', { method: 'POST', body: JSON.stringify({ name, scopes, ...(tier ? { tier } : {}), ...(days ? { expiresInDays: Number(days) } : {}) }) });
      setCreated({ token: r.token, name: r.name });
      setName('');
      setMsg('');
      tokens.reload();
    } catch (err) {
      setMsg((err as Error).message);
    }
  };
  const revoke = async (t: TokenRow) => {
    if (!confirm(`Revoke the token "${t.name}" (${t.prefix}…)? Calls with it will fail from now on.`)) return;
    try {
      await api(`/api/tokens/${t.id}`, { method: 'DELETE' });
      setMsg(`Revoked "${t.name}".`);
      tokens.reload();
    } catch (err) {
      setMsg((err as Error).message);
    }
  };
  return (
    <>
      <h1>Tokens and tiers</h1>
      <Problem error={tokens.error} />
      <p role="status">{msg}</p>
      {created && (
        <div class="token" role="alert">
          <p>
            Token "{created.name}" created. Copy it now: it is not shown again, and it disappears from this page when you close this notice.
          </p>
          <p>
            <code data-testid="new-token">{created.token}</code>
          </p>
          <button type="button" onClick={() => setCreated(undefined)}>
            I have stored it
          </button>
        </div>
      )}
      <form onSubmit={create} aria-labelledby="new-h">
        <h2 id="new-h">New token</h2>
        <div class="row">
          <label>
            Name
            <input type="text" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Tier
            <select value={tier} onChange={(e) => setTier((e.target as HTMLSelectElement).value)}>
              <option value="">Default</option>
              {(tiers.data?.tiers ?? []).map((t) => (
                <option key={String(t.name)} value={String(t.name)}>
                  {String(t.name)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Expires in (days)
            <input type="number" min={1} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        <fieldset>
          <legend>Scopes</legend>
          {['inference', 'endpoints', 'admin'].map((s) => (
            <label class="inline" key={s}>
              <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes((e.target as HTMLInputElement).checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary">
          Create token
        </button>
      </form>
      {tokens.data && (
        <div class="scroll">
          <table data-testid="tokens">
            <caption>Tokens</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Owner</th>
                <th scope="col">Scopes</th>
                <th scope="col">Tier</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.name}</th>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>{t.owner}</td>
                  <td>{t.scopes.join(', ')}</td>
                  <td>{t.tier}</td>
                  <td>{fmt.time(t.createdAt)}</td>
                  <td>{fmt.time(t.expiresAt)}</td>
                  <td>{t.revokedAt ? 'revoked' : 'active'}</td>
                  <td>
                    {!t.revokedAt && (
                      <button type="button" onClick={() => revoke(t)} aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {tiers.data && (
        <div class="scroll">
          <table data-testid="tiers">
            <caption>Tiers</caption>
            <thead>
              <tr>
                <th scope="col">Tier</th>
                <th scope="col">Limits</th>
              </tr>
            </thead>
            <tbody>
              {tiers.data.tiers.map((t) => (
                <tr key={String(t.name)}>
                  <th scope="row">{String(t.name)}</th>
                  <td>
                    {Object.entries(t)
                      .filter(([k]) => k !== 'name')
                      .map(([k, v]) => `${k}: ${String(v)}`)
                      .join(' · ') || 'no limits'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

// --- Usage ---------------------------------------------------------------------------------------------------

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
  computeMs: number;
  costUsd: number;
  avgLatencyMs: number;
}

function csv(rows: UsageRow[], by: string): string {
  const cols = [by, 'requests', 'errors', 'inputTokens', 'outputTokens', 'characters', 'computeMs', 'costUsd', 'avgLatencyMs'] as const;
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell((r as unknown as Record<string, unknown>)[c] ?? (c === 'token' ? 'anonymous' : ''))).join(','))].join('\n') + '\n';
}

function UsagePage() {
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

// --- Request log ---------------------------------------------------------------------------------------------

interface Call {
  at: string;
  id: string;
  method: string;
  path: string;
  model: string;
  kind: string;
  status: number;
  ms: number;
  provider: string;
  token: string;
}

function LogPage() {
  const [status, setStatus] = useState('all');
  const [kind, setKind] = useState('all');
  const [model, setModel] = useState('');
  const [token, setToken] = useState('');
  const q = new URLSearchParams({ status, kind, limit: '200', ...(model ? { model } : {}), ...(token ? { token } : {}) });
  const { data, error } = useData<{ total: number; calls: Call[] }>(`/api/console/log?${q}`, 5000);
  return (
    <>
      <h1>Request log</h1>
      <p class="muted">The last 5,000 calls of this process. Redacted: no bodies, no query strings, tokens by name and id only.</p>
      <form class="row" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="all">All</option>
            <option value="ok">OK</option>
            <option value="4xx">4xx</option>
            <option value="5xx">5xx</option>
          </select>
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="all">All</option>
            <option value="inference">Inference</option>
            <option value="gradio">Gradio API</option>
            <option value="admin">Admin</option>
          </select>
        </label>
        <label>
          Model
          <input type="text" value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Token name
          <input type="text" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
      </form>
      <Problem error={error} />
      {data && (
        <div class="scroll">
          <table data-testid="log">
            <caption>
              {data.calls.length} of {data.total} matching calls, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Model</th>
                <th scope="col" class="num">Status</th>
                <th scope="col" class="num">Latency</th>
                <th scope="col">Provider</th>
                <th scope="col">Token</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {data.calls.map((c) => (
                <tr key={c.id + c.at}>
                  <td>{new Date(c.at).toLocaleTimeString()}</td>
                  <td>{c.method}</td>
                  <td>{c.path}</td>
                  <td>{c.model}</td>
                  <td class="num">{c.status}</td>
                  <td class="num">{fmt.ms(c.ms)}</td>
                  <td>{c.provider}</td>
                  <td>{c.token}</td>
                  <td>
                    <code>{c.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

// --- Bench ---------------------------------------------------------------------------------------------------

function BenchPage() {
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

// --- Shell ---------------------------------------------------------------------------------------------------

function SignIn({ status, onSaved }: { status: number; onSaved: () => void }) {
  const [v, setV] = useState('');
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        saveToken(v.trim(), ADMIN_TOKEN_KEY);
        setV('');
        onSaved();
      }}
    >
      <h1>Console</h1>
      <p role="alert">
        {status === 403 ? 'This token does not have the admin scope: the console needs an admin token.' : 'The console needs a token with the admin scope.'}
      </p>
      <label>
        Admin token (kept in this tab only, sent only to this server)
        <input type="password" autocomplete="off" value={v} onInput={(e) => setV((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" class="primary">
        Sign in
      </button>
    </form>
  );
}

function ConsoleApp() {
  const page = currentPage();
  const [who, setWho] = useState<{ name: string; anonymous: boolean } | undefined>();
  const [denied, setDenied] = useState<number>();
  const [n, setN] = useState(0);
  useEffect(() => {
    api<{ name: string; anonymous: boolean }>('/api/console/whoami').then(
      (w) => (setWho(w), setDenied(undefined)),
      (e: Error) => setDenied(e instanceof HttpError ? e.status : 500),
    );
  }, [n]);
  const body = denied ? (
    <SignIn status={denied} onSaved={() => setN((x) => x + 1)} />
  ) : !who ? (
    <p>Loading…</p>
  ) : page === 'overview' ? (
    <OverviewPage />
  ) : page === 'models' ? (
    <ModelsPage />
  ) : page === 'endpoints' ? (
    <EndpointsPage />
  ) : page === 'providers' ? (
    <ProvidersPage />
  ) : page === 'tokens' ? (
    <TokensPage />
  ) : page === 'usage' ? (
    <UsagePage />
  ) : page === 'log' ? (
    <LogPage />
  ) : (
    <BenchPage />
  );
  return (
    <div class="console">
      <header class="side-head">
        <nav class="side" aria-label="Console">
          <p>
            <a class="brand" href="/admin">
              modelhost console
            </a>
          </p>
          <ul>
            {PAGES.map(([id, title]) => (
              <li key={id}>
                <a href={`/admin/${id}`} aria-current={page === id ? 'page' : undefined}>
                  {title}
                </a>
              </li>
            ))}
            <li>
              <a href="/spaces">Spaces</a>
            </li>
          </ul>
          {who && (
            <p class="muted">
              Signed in as {who.name}
              {savedToken(ADMIN_TOKEN_KEY) && (
                <>
                  {' '}
                  <button type="button" onClick={() => (saveToken('', ADMIN_TOKEN_KEY), setN((x) => x + 1))}>
                    Sign out
                  </button>
                </>
              )}
            </p>
          )}
        </nav>
      </header>
      <main id="main">{body}</main>
    </div>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<ConsoleApp />, root);
