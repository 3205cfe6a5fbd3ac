/**
 * "Create dedicated endpoint": a name and an access type, created through the endpoints API (`POST
 * /api/endpoints/{namespace}`, the namespace from `/api/whoami-v2`) with the tab's token or, on a loopback
 * server without tokens, as its owner; then the endpoint's state until it runs, and a curl line that calls it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Way } from '../../../server/ways.ts';
import { HttpError, api, savedToken } from '../lib.ts';
import { Code } from './code.tsx';
import { TokenBox } from './token-box.tsx';

interface Endpoint {
  name: string;
  type: string;
  status?: { state?: string; message?: string; readyReplica?: number; targetReplica?: number; url?: string | null };
}

const DONE = new Set(['running', 'failed', 'updateFailed', 'paused']);
const STATE_TEXT: Record<string, string> = {
  pending: 'Pending',
  initializing: 'Starting replicas',
  updating: 'Updating',
  running: 'Running',
  failed: 'Failed',
  updateFailed: 'Update failed',
  paused: 'Paused',
  scaledToZero: 'Scaled to zero',
};

/** A valid endpoint name from the model's name: lowercase letters, digits and hyphens, at most 32. */
function suggestedName(id: string): string {
  const base = (id.split('/').pop() ?? 'model').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return (base || 'model').slice(0, 32).replace(/-+$/, '');
}

/**
 * The way's call of the endpoint, at the address the browser used (the endpoint's `status.url` is built from
 * the server's configured public URL, which a browser behind a proxy may not reach), with the token header
 * when the endpoint needs one.
 */
function curlLine(way: Way, e: Endpoint, baseUrl: string): string {
  const url = `${baseUrl}/endpoints/${e.name}`;
  const line = (way.call ?? "curl -X POST {url} -H 'Content-Type: application/json' -d '{\"inputs\": \"Hello\"}'").replace('{url}', url);
  if (e.type === 'public' || !savedToken()) return line;
  return line.replace(/^curl -X POST (\S+)/, `curl -X POST $1 -H "Authorization: Bearer $MODELHOST_TOKEN"`);
}

export function CreateEndpoint({ id, way, baseUrl }: { id: string; way: Way; baseUrl: string }) {
  const [name, setName] = useState(suggestedName(id));
  const [type, setType] = useState('protected');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [needToken, setNeedToken] = useState(false);
  const [endpoint, setEndpoint] = useState<Endpoint>();
  const stop = useRef(false);
  useEffect(() => () => void (stop.current = true), []);

  const watch = async (path: string) => {
    for (;;) {
      const e = await api<Endpoint>(path);
      setEndpoint(e);
      if (stop.current || DONE.has(e.status?.state ?? '')) return;
      await new Promise((r) => setTimeout(r, 700));
    }
  };

  const create = async () => {
    setError('');
    setBusy(true);
    try {
      const who = await api<{ name: string }>('/api/whoami-v2');
      const ns = encodeURIComponent(who.name);
      const created = await api<Endpoint>(`/api/endpoints/${ns}`, { method: 'POST', body: JSON.stringify({ name, type, model: { repository: id } }) });
      setEndpoint(created);
      await watch(`/api/endpoints/${ns}/${encodeURIComponent(created.name)}`);
    } catch (e) {
      if (e instanceof HttpError && (e.status === 401 || e.status === 403)) setNeedToken(true);
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const state = endpoint?.status?.state ?? '';
  const running = state === 'running';
  return (
    <div class="create-endpoint">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <div class="row">
          <label>
            Endpoint name
            <input type="text" value={name} required pattern="[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Access
            <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value)}>
              <option value="protected">Protected: any valid token</option>
              <option value="public">Public: anyone</option>
              <option value="private">Private: your tokens only</option>
            </select>
          </label>
        </div>
        <button type="submit" class="primary" disabled={busy || running}>
          Create dedicated endpoint
        </button>
      </form>
      {needToken && <TokenBox scope="endpoints" onSave={() => (setNeedToken(false), setError(''))} />}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div role="status" aria-live="polite" data-testid="endpoint-status">
        {endpoint && (
          <p>
            <strong>{endpoint.name}</strong>: <span class={`state s-${running ? 'ready' : DONE.has(state) ? 'failed' : 'loading'}`}>{STATE_TEXT[state] ?? state}</span>{' '}
            {!running && endpoint.status?.message && <span class="muted">{endpoint.status.message}</span>}{' '}
            {!DONE.has(state) && <progress max={Math.max(1, endpoint.status?.targetReplica ?? 1)} value={endpoint.status?.readyReplica ?? 0} aria-label="Replicas ready" />}
          </p>
        )}
      </div>
      {running && endpoint && (
        <>
          <Code title="Call your endpoint" code={curlLine(way, endpoint, baseUrl)} />
          <p class="hint">
            Manage it (pause, scale to zero, metrics) in the <a href="/admin/endpoints">console</a> or with <code>modelhost endpoints</code>.
          </p>
        </>
      )}
    </div>
  );
}
