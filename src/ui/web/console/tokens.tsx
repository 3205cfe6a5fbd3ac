/** Tokens and tiers panel (`/admin/tokens`): create a token (shown once), revoke one, and the tiers' limits. */
import { useState } from 'preact/hooks';
import { fmt } from '../lib.ts';
import { api, useData } from './api.ts';
import { Problem } from './widgets.tsx';

export interface TokenRow {
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

export function TokensPage() {
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
