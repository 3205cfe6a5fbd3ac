/** Asks for a token when the server answered 401 or 403; the token stays in this tab (sessionStorage). */
import { useState } from 'preact/hooks';
import { saveToken, savedToken } from '../lib.ts';

export function TokenBox({ onSave, scope = 'inference' }: { onSave: () => void; scope?: string }) {
  const [v, setV] = useState(savedToken());
  return (
    <div class="token">
      <label>
        This server needs a token. Paste one with the {scope} scope (kept in this tab only, sent only to this server):
        <input type="password" autocomplete="off" value={v} onInput={(e) => setV((e.target as HTMLInputElement).value)} />
      </label>
      <button type="button" onClick={() => (saveToken(v.trim()), onSave())}>
        Use token
      </button>
    </div>
  );
}
