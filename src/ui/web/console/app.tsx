/** The console's shell: the side navigation, who is signed in, and the panel the URL names (`/admin/{panel}`). */
import { useEffect, useState } from 'preact/hooks';
import { ADMIN_TOKEN_KEY, HttpError, saveToken, savedToken } from '../lib.ts';
import { api } from './api.ts';
import { BenchPage } from './bench.tsx';
import { EndpointsPage } from './endpoints.tsx';
import { LogPage } from './log.tsx';
import { ModelsPage } from './models.tsx';
import { OverviewPage } from './overview.tsx';
import { PredictionsPage } from './predictions.tsx';
import { ProvidersPage } from './providers.tsx';
import { SignIn } from './sign-in.tsx';
import { TokensPage } from './tokens.tsx';
import { UsagePage } from './usage.tsx';

/** The panels, in menu order: id (the URL's `/admin/{id}`), menu title, component. */
const PAGES = [
  ['overview', 'Overview', OverviewPage],
  ['models', 'Models', ModelsPage],
  ['endpoints', 'Dedicated endpoints', EndpointsPage],
  ['predictions', 'Predictions', PredictionsPage],
  ['providers', 'Providers', ProvidersPage],
  ['tokens', 'Tokens and tiers', TokensPage],
  ['usage', 'Usage and cost', UsagePage],
  ['log', 'Request log', LogPage],
  ['bench', 'Bench reports', BenchPage],
] as const;
/** The panel the URL names; the overview for `/admin` and for any name the console does not know. */
function currentPage(): (typeof PAGES)[number] {
  const seg = location.pathname.replace(/^\/admin\/?/, '').split('/')[0] || 'overview';
  return PAGES.find((p) => p[0] === seg) ?? PAGES[0];
}

export function ConsoleApp() {
  const [page, , Page] = currentPage();
  const [who, setWho] = useState<{ name: string; anonymous: boolean } | undefined>();
  const [denied, setDenied] = useState<number>();
  const [n, setN] = useState(0);
  useEffect(() => {
    api<{ name: string; anonymous: boolean }>('/api/console/whoami').then(
      (w) => (setWho(w), setDenied(undefined)),
      (e: Error) => setDenied(e instanceof HttpError ? e.status : 500),
    );
  }, [n]);
  const body = denied ? <SignIn status={denied} onSaved={() => setN((x) => x + 1)} /> : !who ? <p>Loading…</p> : <Page />;
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
