/**
 * What can go wrong in a pull, as one-line messages. `kind` lets callers (the CLI's exit code, the
 * pull-on-first-call service's HTTP status) decide without parsing text; `retryable` says whether trying
 * again can ever help, so no message tells a user to retry what cannot succeed.
 */
export type PullErrorKind =
  | 'bad_input'
  | 'repo_not_found'
  | 'revision_not_found'
  | 'entry_not_found'
  | 'gated'
  | 'unauthorized'
  | 'no_runnable_files'
  | 'integrity'
  | 'network'
  | 'upstream';

const RETRYABLE: ReadonlySet<PullErrorKind> = new Set(['network', 'upstream']);

export class PullError extends Error {
  readonly kind: PullErrorKind;
  constructor(kind: PullErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PullError';
    this.kind = kind;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

/** A transport failure (refused, reset, DNS, timeout) as one line naming the endpoint. */
export function networkError(url: string, e: unknown): PullError {
  const code = (e as { code?: string }).code ?? '';
  const origin = new URL(url).origin;
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed (no network?)',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_SOCKET: 'connection closed by the other side',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    UND_ERR_BODY_TIMEOUT: 'the download stalled',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  };
  return new PullError('network', `cannot reach ${origin}: ${why[code] ?? ((e as Error).message || 'network error')}`, { cause: e });
}
