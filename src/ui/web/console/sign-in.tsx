/** The console's sign-in form, shown when the server refuses the console's whoami (no token, or not an admin one). */
import { useState } from 'preact/hooks';
import { ADMIN_TOKEN_KEY, saveToken } from '../lib.ts';

export function SignIn({ status, onSaved }: { status: number; onSaved: () => void }) {
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
