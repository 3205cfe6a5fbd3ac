/** How console panels reach the server: admin-scoped calls with the admin token, and data that refreshes itself. */
import { useEffect, useState } from 'preact/hooks';
import { ADMIN_TOKEN_KEY, HttpError, api as rawApi } from '../lib.ts';

export const api = <T,>(path: string, init: RequestInit = {}) => rawApi<T>(path, init, ADMIN_TOKEN_KEY);

/** Loads `path` now and every `everyMs` (0: once); errors are kept for display. */
export function useData<T>(path: string | null, everyMs = 0, deps: unknown[] = []): { data?: T; error?: HttpError | Error; reload: () => void } {
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
