/**
 * The Hub's file API, so huggingface_hub (`HF_ENDPOINT`), `@huggingface/hub` (`hubUrl`) and transformers.js
 * (`env.remoteHost`) download from this server unchanged (shared/docs/hub-protocol.md, section 7):
 * `HEAD|GET /{org}/{name}/resolve|raw/{rev}/{path}`, `GET /api/models/{org}/{name}/tree/{rev}[/{path}]` and
 * `POST /api/models/{org}/{name}/paths-info/{rev}`. Files are streamed from disk with Range support and never
 * compressed, redirected or buffered. Routes only translate HTTP; src/hub knows repositories and revisions.
 */
import { open } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { validate } from '../../core/tasks/index.ts';
import { maySee } from '../../hub/access.ts';
import { MAX_PAGE, page, pathEntry, treeEntries } from '../../hub/entries.ts';
import { badRequest, entryNotFound, HubError, hubErrorHeaders, repoNotFound, revisionNotFound } from '../../hub/errors.ts';
import { lfsPointer } from '../../hub/lfs.ts';
import { checkFilePath, checkRepoId, checkRevision } from '../../hub/paths.ts';
import { parseRange } from '../../hub/range.ts';
import type { HubFiles } from '../../hub/service.ts';
import type { HubFile } from '../../hub/snapshot.ts';
import type { AccessRequest } from '../access.ts';
import type { ServerDeps } from '../deps.ts';
import { sendError } from '../errors.ts';

type RepoParams = { org: string; name: string; rev: string; '*'?: string };

const flag = z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1');
const treeQuery = z.object({
  recursive: flag.optional(),
  expand: flag.optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
});
const pathsBody = z.object({
  paths: z.union([z.string(), z.array(z.string()).max(10_000)]).transform((p) => (Array.isArray(p) ? p : [p])),
  expand: z.union([z.boolean(), flag]).optional(),
});

/** Everything a route needs to know about the request's repository and revision, or the Hub's error. */
async function repoAt(hub: HubFiles, deps: ServerDeps, request: FastifyRequest<{ Params: RepoParams }>) {
  const { org, name, rev } = request.params;
  const id = checkRepoId(org, name);
  const revision = checkRevision(rev);
  const repo = hub.find(id);
  const caller = { authorization: request.headers.authorization, principal: (request as AccessRequest).principal };
  if (!repo || !(await maySee(repo, caller, deps.access))) throw repoNotFound(id);
  const snapshot = await hub.at(repo, revision);
  if (!snapshot) throw revisionNotFound(id, revision);
  return { id, repo, snapshot };
}

/** `Content-Type` by extension; never the Xet file-info type, which would switch `@huggingface/hub` to Xet. */
function contentType(file: string): string {
  if (file.endsWith('.json')) return 'application/json; charset=utf-8';
  if (/\.(md|txt|py|yaml|yml|gitattributes|vocab|merges)$/.test(file) || /(^|\/)\.gitattributes$/.test(file)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function contentDisposition(file: string): string {
  const base = path.posix.basename(file);
  return `inline; filename*=UTF-8''${encodeURIComponent(base)}; filename="${base.replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;
}

/**
 * `/resolve/` serves the content, with the LFS headers for LFS files; `/raw/` serves what git stores: the
 * content of a regular file, the pointer of an LFS file (`fileExists` and cross-origin-storage caches read it).
 */
async function serveFile(hub: HubFiles, deps: ServerDeps, request: FastifyRequest<{ Params: RepoParams }>, reply: FastifyReply, raw: boolean) {
  // The path is checked before anything else, so a traversal attempt never reaches a lookup.
  const file = checkFilePath(request.params['*'] ?? '');
  const { id, snapshot } = await repoAt(hub, deps, request);
  const entry = snapshot.byPath.get(file);
  if (!entry) throw entryNotFound(id, file, snapshot.commit);
  const pointer = raw && entry.lfs ? Buffer.from(lfsPointer(entry.lfs.sha256, entry.size)) : undefined;
  const etag = pointer || !entry.lfs ? entry.oid : entry.lfs.sha256;
  const size = pointer?.length ?? entry.size;
  reply.headers({
    'x-repo-commit': snapshot.commit,
    etag: `"${etag}"`,
    'accept-ranges': 'bytes',
    'content-type': pointer ? 'text/plain; charset=utf-8' : contentType(file),
    'content-disposition': contentDisposition(file),
    ...(entry.lfs && !pointer ? { 'x-linked-etag': `"${entry.lfs.sha256}"`, 'x-linked-size': String(entry.size) } : {}),
  });
  const match = request.headers['if-none-match'];
  if (match && match.split(',').some((t) => t.trim().replace(/^W\//, '') === `"${etag}"`)) return reply.code(304).send();
  // A Range with If-Range that names another version gets the whole (current) file.
  const ifRange = request.headers['if-range'];
  const range = parseRange(ifRange && ifRange !== `"${etag}"` ? undefined : request.headers.range, size);
  if (range.kind === 'unsatisfiable') {
    reply.header('content-range', `bytes */${size}`);
    throw new HubError(416, `The requested range is outside ${file}, which has ${size} bytes.`);
  }
  const [start, end] = range.kind === 'part' ? [range.start, range.end] : [0, size - 1];
  reply.code(range.kind === 'part' ? 206 : 200).header('content-length', String(Math.max(0, end - start + 1)));
  if (range.kind === 'part') reply.header('content-range', `bytes ${start}-${end}/${size}`);
  if (request.method === 'HEAD' || end < start) return reply.send();
  if (pointer) return reply.send(pointer.subarray(start, end + 1));
  return sendFromDisk(reply, entry, start, end);
}

const SEND_CHUNK = 256 * 1024;
const SEND_BUFFERS = 3;

/**
 * The bytes from disk, written to the socket from a few buffers used over and over. fs.ReadStream allocates a
 * fresh buffer per read; V8 counts them as external memory and runs a full collection every few tens of MB of
 * them, which in a server whose heap has grown costs more than the sending (profiled on a 214 MB download: two
 * thirds of the server's CPU, and four times a fresh server's). A buffer is read into again once the socket has
 * taken its bytes (the write callback), which is also the backpressure. The reply is hijacked: onResponse
 * hooks still run, onSend hooks do not (their timing headers are left out of file bodies).
 */
async function sendFromDisk(reply: FastifyReply, entry: HubFile, start: number, end: number): Promise<void> {
  const handle = await open(entry.abs, 'r');
  const res = reply.raw;
  reply.hijack();
  res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  const free: Buffer[] = Array.from({ length: SEND_BUFFERS }, () => Buffer.allocUnsafe(SEND_CHUNK));
  let wake: (() => void) | undefined;
  const woken = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on('close', woken);
  try {
    for (let at = start; at <= end; ) {
      while (free.length === 0 && !res.destroyed) await new Promise<void>((resolve) => (wake = resolve));
      if (res.destroyed) return;
      const buffer = free.pop()!;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(SEND_CHUNK, end + 1 - at), at);
      if (bytesRead === 0) throw new Error(`${entry.abs} is shorter than its listed size`);
      at += bytesRead;
      res.write(buffer.subarray(0, bytesRead), () => {
        free.push(buffer);
        woken();
      });
    }
    res.end();
  } catch (e) {
    // The status line is sent: a cut connection is all a client can be told.
    res.destroy(e as Error);
  } finally {
    res.off('close', woken);
    await handle.close();
  }
}

/** The absolute URL of the next tree page, on the origin the caller used (clients only follow absolute links). */
function nextLink(request: FastifyRequest<{ Params: RepoParams }>, cursor: string, limit: number | undefined): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('cursor', cursor);
  if (limit !== undefined) url.searchParams.set('limit', String(limit));
  return `<${url.toString()}>; rel="next"`;
}

async function tree(hub: HubFiles, deps: ServerDeps, request: FastifyRequest<{ Params: RepoParams }>, reply: FastifyReply) {
  const folder = request.params['*'] ? checkFilePath(request.params['*'].replace(/\/+$/, '')) : '';
  const q = validate(treeQuery, request.query, 'query');
  const { id, snapshot } = await repoAt(hub, deps, request);
  const entries = treeEntries(snapshot, folder, q.recursive ?? false, q.expand ?? false);
  if (!entries) throw entryNotFound(id, folder, snapshot.commit);
  const { items, next } = page(entries, q.cursor, q.limit ?? MAX_PAGE);
  reply.header('x-repo-commit', snapshot.commit);
  if (next) reply.header('link', nextLink(request, next, q.limit));
  return items;
}

/** JSON `{paths, expand}` (`@huggingface/hub`) or a form with repeated `paths` (huggingface_hub). */
function pathsRequest(request: FastifyRequest): z.output<typeof pathsBody> {
  const body = request.body instanceof Buffer ? request.body.toString('utf8') : '';
  const type = String(request.headers['content-type'] ?? '');
  let parsed: unknown;
  if (type.includes('application/x-www-form-urlencoded')) {
    const form = new URLSearchParams(body);
    parsed = { paths: form.getAll('paths'), ...(form.has('expand') ? { expand: form.get('expand') } : {}) };
  } else {
    try {
      parsed = JSON.parse(body);
    } catch {
      throw badRequest('paths-info takes a JSON body {"paths": [...], "expand": true|false} or a form with repeated "paths" fields.');
    }
  }
  return validate(pathsBody, parsed, 'body');
}

async function pathsInfo(hub: HubFiles, deps: ServerDeps, request: FastifyRequest<{ Params: RepoParams }>, reply: FastifyReply) {
  const { paths, expand } = pathsRequest(request);
  const wanted = paths.map((p) => checkFilePath(p.replace(/\/+$/, '')));
  const { snapshot } = await repoAt(hub, deps, request);
  reply.header('x-repo-commit', snapshot.commit);
  // Paths the revision does not have are left out, as on the Hub.
  return wanted.map((p) => pathEntry(snapshot, p, expand ?? false)).filter((e) => e !== undefined);
}

export function hubFileRoutes(deps: ServerDeps) {
  return async function routes(app: FastifyInstance) {
    const hub = deps.hub;
    if (!hub) return;
    // Hub errors carry X-Error-Code / X-Error-Message (what the clients read); the body is written as for any route.
    app.setErrorHandler((error, request, reply) => sendError(error, request, reply.headers(hubErrorHeaders(error))));
    for (const kind of ['resolve', 'raw'] as const) {
      app.route<{ Params: RepoParams }>({
        method: ['GET', 'HEAD'],
        url: `/:org/:name/${kind}/:rev/*`,
        handler: (request, reply) => serveFile(hub, deps, request, reply, kind === 'raw'),
      });
    }
    app.get<{ Params: RepoParams }>('/api/models/:org/:name/tree/:rev', (request, reply) => tree(hub, deps, request, reply));
    app.get<{ Params: RepoParams }>('/api/models/:org/:name/tree/:rev/*', (request, reply) => tree(hub, deps, request, reply));
    app.post<{ Params: RepoParams }>('/api/models/:org/:name/paths-info/:rev', (request, reply) => pathsInfo(hub, deps, request, reply));
  };
}
