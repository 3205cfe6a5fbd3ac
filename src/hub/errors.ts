/**
 * The Hub's file-API errors. Clients switch on the `X-Error-Code` header, not on the body or (mostly) the
 * status: huggingface_hub raises RepositoryNotFoundError / RevisionNotFoundError / RemoteEntryNotFoundError
 * from it, and `@huggingface/hub` returns null from downloadFile only for a 404 with `EntryNotFound`
 * (shared/docs/hub-protocol.md 1.7). The body stays `{"error": "..."}`, written by src/server/errors.ts.
 */
import { ModelhostError } from '../core/errors.ts';

export type HubErrorCode = 'RepoNotFound' | 'RevisionNotFound' | 'EntryNotFound';

export class HubError extends ModelhostError {
  constructor(
    status: number,
    message: string,
    /** The Hub's `X-Error-Code`, when the Hub has one for this case. */
    readonly hubCode?: HubErrorCode,
    /** `X-Repo-Commit` of an `EntryNotFound`: huggingface_hub files its negative-cache marker under it. */
    readonly commit?: string,
  ) {
    super(status === 400 || status === 416 ? 'bad_input' : 'model_not_found', status, message);
  }
}

/**
 * An unknown repository, and a private one the caller may not see, get the same answer, so a private id does
 * not leak: 401 as on the Hub (which also cannot tell the two apart for a caller without access).
 */
export function repoNotFound(id: string, status: 401 | 404 = 401): HubError {
  return new HubError(status, `Repository ${id} not found here (a private repository needs a token with the inference scope). GET /api/models lists what is served.`, 'RepoNotFound');
}

export function revisionNotFound(id: string, revision: string): HubError {
  return new HubError(404, `Revision ${revision} not found in ${id}: use main or a commit listed as "sha" by GET /api/models/${id}.`, 'RevisionNotFound');
}

export function entryNotFound(id: string, file: string, commit: string): HubError {
  return new HubError(404, `Entry ${file} not found in ${id} at ${commit}.`, 'EntryNotFound', commit);
}

export function badRequest(message: string): HubError {
  return new HubError(400, message);
}

/** Header values must be one line of visible ASCII; anything else is percent-encoded. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c)).slice(0, 500);
}

/** The headers a Hub error adds to the `{"error": ...}` answer. */
export function hubErrorHeaders(error: unknown): Record<string, string> {
  if (!(error instanceof HubError)) return {};
  return {
    'x-error-message': headerSafe(error.message),
    ...(error.hubCode ? { 'x-error-code': error.hubCode } : {}),
    ...(error.commit ? { 'x-repo-commit': error.commit } : {}),
  };
}
