/** How the router reads a failed attempt: whose fault, what kind, whether the provider answered at all. */
import { ModelhostError } from '../core/errors.ts';
import { UpstreamError } from '../core/providers.ts';

/** What the caller gets to see of a failure: the caller's own mistakes pass through, the rest is failed over. */
export function asFailure(provider: string, e: unknown): UpstreamError | ModelhostError {
  if (e instanceof UpstreamError || e instanceof ModelhostError) return e;
  return new UpstreamError(provider, 'server', `${provider}: ${(e as Error)?.message ?? String(e)}`);
}

/** The caller's fault: never retried, never failed over, passed through as it is. */
export function callersFault(e: UpstreamError | ModelhostError): boolean {
  if (e instanceof UpstreamError) return !e.failover;
  return e.status < 500 && e.status !== 429;
}

export function failureKind(e: UpstreamError | ModelhostError): string {
  return e instanceof UpstreamError ? e.failure : e.code;
}

/** Whether the provider answered at all (for availability): silence and refused connections do not count. */
export function reachable(e: UpstreamError | ModelhostError): boolean {
  return !(e instanceof UpstreamError) || (e.failure !== 'connect' && e.failure !== 'timeout');
}

/** An error whose message has every provider key blanked out (errors are shown to callers). */
export function redacted<E extends ModelhostError>(e: E, secrets: string[]): E {
  const hit = secrets.filter((k) => e.message.includes(k));
  if (hit.length === 0) return e;
  const message = hit.reduce((m, k) => m.split(k).join('[redacted]'), e.message);
  Object.defineProperty(e, 'message', { value: message });
  return e;
}
