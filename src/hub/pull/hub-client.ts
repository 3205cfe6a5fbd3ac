/**
 * The few Hub calls a pull makes (shared/docs/hub-protocol.md §6.4): model info at a revision (gives the
 * commit), the recursive tree at that commit (sizes, git oids, LFS sha256), and `/resolve/` for bytes. It
 * speaks to huggingface.co, a mirror or another modelhost alike.
 *
 * Redirects are followed here rather than by undici so that the 3xx's own headers (`X-Linked-Etag`) are kept
 * and the token goes only to the endpoint's origin, never to a CDN it redirects to (as huggingface_hub does).
 * `@huggingface/hub`'s modelInfo/listFiles are not used: they reject tokens without an `hf_` prefix (a
 * modelhost token may have another) and drop `X-Error-Code`, which the one-line errors below need.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { networkError, PullError } from './errors.ts';

export interface TreeFile {
  path: string;
  size: number;
  /** git blob sha-1 (the ETag of a regular file). */
  oid: string;
  /** Present for LFS files: sha-256 of the content and its size. */
  lfs?: { oid: string; size: number };
}

export interface RepoRevision {
  /** 40-hex commit the revision resolved to. */
  sha: string;
  pipelineTag?: string;
  libraryName?: string;
  gated: boolean;
}

export interface HubClientOptions {
  /** Base URL: https://huggingface.co, a mirror, or a modelhost instance. */
  endpoint: string;
  token?: string;
  /** Most connections to one origin (the pool of parallel files). */
  connections?: number;
}

const USER_AGENT = 'modelhost-pull';
/** Body bytes undici buffers before it stops reading the socket (its 64 kB default throttles loopback transfers). */
const BODY_BUFFER = 4 * 1024 * 1024;

/** The Hub's `X-Error-Code` (or, without one, the status) as one line. */
function hubError(status: number, headers: Dispatcher.ResponseData['headers'], what: { repo: string; revision?: string; file?: string; tokenSent: boolean }): PullError {
  const code = String(headers['x-error-code'] ?? '');
  const at = what.revision ? `${what.repo}@${what.revision}` : what.repo;
  if (code === 'GatedRepo') {
    return new PullError(
      'gated',
      what.tokenSent
        ? `${what.repo} is gated and this token has not been granted access: request access on the Hub, then pull again`
        : `${what.repo} is gated: accept its terms on the Hub, then set HF_TOKEN (or --token-env) to a token of that account`,
    );
  }
  if (code === 'RevisionNotFound') return new PullError('revision_not_found', `revision ${what.revision ?? ''} not found in ${what.repo}`);
  if (code === 'EntryNotFound' || (status === 404 && what.file)) return new PullError('entry_not_found', `file ${what.file ?? '?'} not found in ${at}`);
  if (code === 'RepoNotFound' || status === 404) {
    return new PullError('repo_not_found', `repository ${what.repo} not found${what.tokenSent ? '' : ' (if it is private, set HF_TOKEN or --token-env)'}`);
  }
  if (status === 401 || status === 403) {
    return new PullError('unauthorized', what.tokenSent ? `the token was refused for ${what.repo} (HTTP ${status})` : `${what.repo} needs a token: set HF_TOKEN or --token-env`);
  }
  if (status === 429) return new PullError('upstream', `the Hub is rate-limiting this client (HTTP 429); wait a little and pull again`);
  return new PullError(status >= 500 ? 'upstream' : 'bad_input', `the Hub answered HTTP ${status} for ${what.file ?? at}`);
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `"abc"`, `W/"abc"` -> `abc`, as huggingface_hub normalises ETags. */
export function normalizeEtag(value: string | undefined): string | undefined {
  return value?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

export class HubClient {
  readonly endpoint: string;
  private readonly origin: string;
  private readonly dispatcher: Agent;

  constructor(private readonly opts: HubClientOptions) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    let url: URL;
    try {
      url = new URL(this.endpoint);
    } catch {
      throw new PullError('bad_input', `endpoint ${opts.endpoint} is not a URL (expected e.g. https://huggingface.co)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PullError('bad_input', `endpoint ${opts.endpoint} must be http:// or https://`);
    this.origin = url.origin;
    // bodyTimeout: a stalled transfer becomes an error, so the download resumes it on a fresh connection.
    this.dispatcher = new Agent({ connections: opts.connections ?? 8, bodyTimeout: 30_000, headersTimeout: 60_000 });
  }

  get hasToken(): boolean {
    return !!this.opts.token;
  }

  /** The headers every request to `url` carries; the token only goes to the endpoint's origin. */
  headersFor(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
    if (new URL(url).origin === this.origin && this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    return h;
  }

  /** The connection pool of this client (parts fetched over https use it). */
  get pool(): Dispatcher {
    return this.dispatcher;
  }

  /**
   * GET (or the given method) following up to 5 redirects; the token only goes to the endpoint's origin. `url`
   * is where the answer came from (after redirects), `first` the headers of the first answer.
   */
  async send(
    url: string,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<{ res: Dispatcher.ResponseData; first: Dispatcher.ResponseData['headers']; url: string }> {
    let current = url;
    let first: Dispatcher.ResponseData['headers'] | undefined;
    for (let hop = 0; hop <= 5; hop++) {
      const h = this.headersFor(current, headers);
      let res: Dispatcher.ResponseData;
      try {
        res = await request(current, { method: 'GET', headers: h, dispatcher: this.dispatcher, signal, highWaterMark: BODY_BUFFER });
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw networkError(current, e);
      }
      first ??= res.headers;
      const location = header(res.headers, 'location');
      if (res.statusCode >= 300 && res.statusCode < 400 && location) {
        await res.body.dump();
        current = new URL(location, current).toString();
        continue;
      }
      return { res, first, url: current };
    }
    throw new PullError('upstream', `too many redirects from ${url}`);
  }

  private async json<T>(url: string, what: { repo: string; revision?: string }): Promise<{ body: T; headers: Dispatcher.ResponseData['headers'] }> {
    const { res } = await this.send(url, { accept: 'application/json' });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw hubError(res.statusCode, res.headers, { ...what, tokenSent: this.hasToken });
    }
    try {
      return { body: (await res.body.json()) as T, headers: res.headers };
    } catch (e) {
      throw new PullError('upstream', `${this.origin} did not answer JSON for ${url.slice(this.endpoint.length)}; is ${this.endpoint} a Hub endpoint?`, { cause: e });
    }
  }

  /** Model info at a revision: the commit it points to, and what the card says. */
  async revision(repo: string, revision: string): Promise<RepoRevision> {
    const { body } = await this.json<{ sha?: unknown; pipeline_tag?: unknown; library_name?: unknown; gated?: unknown }>(
      `${this.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`,
      { repo, revision },
    );
    if (typeof body.sha !== 'string' || !/^[0-9a-f]{40}$/.test(body.sha)) throw new PullError('upstream', `${this.origin} gave no commit sha for ${repo}@${revision}`);
    return {
      sha: body.sha,
      pipelineTag: typeof body.pipeline_tag === 'string' ? body.pipeline_tag : undefined,
      libraryName: typeof body.library_name === 'string' ? body.library_name : undefined,
      gated: body.gated !== false && body.gated !== undefined && body.gated !== null,
    };
  }

  /** Every file of the repo at a commit, following `Link: <...>; rel="next"` pages. */
  async tree(repo: string, sha: string): Promise<TreeFile[]> {
    const files: TreeFile[] = [];
    let url: string | undefined = `${this.endpoint}/api/models/${repo}/tree/${sha}?recursive=true&expand=false`;
    for (let page = 0; url && page < 10_000; page++) {
      const { body, headers } = await this.json<unknown>(url, { repo, revision: sha });
      if (!Array.isArray(body)) throw new PullError('upstream', `${this.origin} answered the tree of ${repo} with something other than a list`);
      for (const e of body as Record<string, unknown>[]) {
        if (e.type !== 'file' || typeof e.path !== 'string') continue;
        const lfs = e.lfs as { oid?: unknown; size?: unknown } | undefined;
        files.push({
          path: e.path,
          size: Number(e.size),
          oid: String(e.oid ?? ''),
          ...(lfs && typeof lfs.oid === 'string' ? { lfs: { oid: lfs.oid, size: Number(lfs.size ?? e.size) } } : {}),
        });
      }
      const next = /<([^>]+)>;\s*rel="next"/.exec(header(headers, 'link') ?? '');
      url = next?.[1] ? new URL(next[1], url).toString() : undefined;
    }
    return files;
  }

  /** URL of a file's bytes at a commit. */
  resolveUrl(repo: string, sha: string, file: string): string {
    return `${this.endpoint}/${repo}/resolve/${sha}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  fileError(status: number, headers: Dispatcher.ResponseData['headers'], repo: string, sha: string, file: string): PullError {
    return hubError(status, headers, { repo, revision: sha, file, tokenSent: this.hasToken });
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
