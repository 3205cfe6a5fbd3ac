/** What every adapter factory is given, built by the composition root from the providers file. */
import type { CallSignal, ProviderAdapter } from '../../core/providers.ts';
import type { Timeouts } from './http.ts';

export interface AdapterConfig {
  /** Instance name (routes, `x-provider`, statistics). */
  name: string;
  type: string;
  /** The provider's API root, e.g. `https://api.replicate.com/v1`, `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Read from the environment variable the providers file names; never logged. */
  apiKey?: string;
  timeouts: Timeouts;
  /** Adapter-specific settings from the providers file (documented at the top of each adapter). */
  options: Record<string, unknown>;
}

export type AdapterFactory = (config: AdapterConfig) => ProviderAdapter;

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function delay(ms: number, signal: CallSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
