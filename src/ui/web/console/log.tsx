/** Request log panel (`/admin/log`): the process's last calls, redacted, filtered by status, kind, model or token. */
import { useState } from 'preact/hooks';
import { fmt } from '../lib.ts';
import { useData } from './api.ts';
import { Problem } from './widgets.tsx';

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

export function LogPage() {
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
