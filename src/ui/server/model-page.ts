/**
 * What the model page (`/{org}/{name}`) shows: the card's Markdown (front matter stripped; the browser renders
 * and sanitises it), the files with their sizes, and the ways to run the model (src/server/ways.ts, the same
 * list the model info route gives). Known ids are local models, repositories this server only stores (the HF
 * cache) and models the providers file routes to hosted providers.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { HubRepoInfo } from '../../core/model.ts';
import { maySee } from '../../hub/access.ts';
import { readCard } from '../../engine/repository.ts';
import { isLfsFile } from '../../hub/lfs.ts';
import type { AccessRequest } from '../../server/access.ts';
import type { ServerDeps } from '../../server/deps.ts';
import { modelWays, type ModelWays } from '../../server/ways.ts';

/** Cards larger than this are cut: a page is not the place for a book. */
const MAX_CARD_BYTES = 512 * 1024;

export interface ModelFile {
  path: string;
  size: number;
  lfs: boolean;
}

export interface ModelPageInfo {
  id: string;
  task?: string;
  libraryName?: string;
  license?: string;
  tags: string[];
  /** The engine runtime that runs it here, when it runs here. */
  runtime?: string;
  state?: string;
  /** Hosted providers that serve it (the providers file). */
  providers: string[];
  /** Set when this server stores the files but cannot run them. */
  unrunnable?: string;
  /** The README's Markdown without its front matter; null when there is none (`cardNote` says why). */
  card: string | null;
  cardNote?: string;
  /** Null for a model served only by hosted providers. */
  files: ModelFile[] | null;
  totalBytes: number;
  /** Whether files can be downloaded from this server (`/{id}/resolve/main/{path}`). */
  downloadable: boolean;
  ways: ModelWays;
  baseUrl: string;
}

/** The README body: the `---` front matter (the card's metadata, shown as chips instead) is left out. */
export function cardBody(markdown: string): string {
  return markdown.replace(/^\uFEFF?---\r?\n[\s\S]*?\r?\n---[ \t]*(\r?\n|$)/, '').trim();
}

function readCardText(repo: HubRepoInfo): { card: string | null; cardNote?: string } {
  if (!repo.files.includes('README.md')) return { card: null, cardNote: 'This repository has no README.md, so it has no model card.' };
  try {
    const buf = readFileSync(path.join(repo.dir, 'README.md'));
    const cut = buf.length > MAX_CARD_BYTES;
    const text = cardBody(buf.subarray(0, MAX_CARD_BYTES).toString('utf8'));
    return { card: text, ...(cut ? { cardNote: `The card is longer than ${MAX_CARD_BYTES / 1024} KB; only its beginning is shown.` } : {}) };
  } catch {
    return { card: null, cardNote: 'The README.md of this repository could not be read.' };
  }
}

function cardPipelineTag(repo: HubRepoInfo): string | undefined {
  try {
    const tag = readCard(repo.dir).pipeline_tag;
    return typeof tag === 'string' ? tag : undefined;
  } catch {
    return undefined;
  }
}

/** Sizes from the files themselves (a stat each; following the HF cache's symlinks to their blobs). */
function filesOf(repo: HubRepoInfo): ModelFile[] {
  const out: ModelFile[] = [];
  for (const rel of repo.files) {
    try {
      const size = statSync(path.join(repo.dir, ...rel.split('/'))).size;
      out.push({ path: rel, size, lfs: isLfsFile(rel, size) });
    } catch {
      // listed but gone (a folder being edited): left out, as the Hub file API leaves it out
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The page of `id` as `request`'s caller may see it, or undefined (unknown, or private to others). */
export async function modelPage(deps: ServerDeps, id: string, request: FastifyRequest, baseUrl: string): Promise<ModelPageInfo | undefined> {
  const model = deps.repository.get(id);
  const repo: HubRepoInfo | undefined = deps.hub?.find(id) ?? model;
  const routed = deps.router?.modelEntry(id);
  if (!repo && !routed) return undefined;
  if (repo && !(await maySee(repo, { authorization: request.headers.authorization, principal: (request as AccessRequest).principal }, deps.access))) return undefined;
  const unrunnable = repo && !model && !routed ? ('reason' in repo ? String(repo.reason) : 'not a model this server runs') : undefined;
  const cardTask = unrunnable ? cardPipelineTag(repo!) : undefined;
  const ways = modelWays(deps, { id, model, repo, routed, unrunnable, task: cardTask }, baseUrl);
  const files = repo ? filesOf(repo) : null;
  const hosted = routed?.providers.map((p) => p.provider).filter((p) => p !== 'local') ?? [];
  return {
    id,
    task: model?.pipelineTag ?? routed?.task ?? cardTask,
    libraryName: model?.libraryName,
    license: model?.license,
    tags: model?.tags ?? [],
    runtime: model?.runtime,
    state: model ? deps.engine.state(id) : undefined,
    providers: hosted,
    unrunnable,
    ...(repo ? readCardText(repo) : { card: null, cardNote: `No model card here: this model is served by hosted providers (${hosted.join(', ')}) and this server has none of its files.` }),
    files,
    totalBytes: files?.reduce((n, f) => n + f.size, 0) ?? 0,
    downloadable: !!repo && !!deps.hub,
    ways,
    baseUrl,
  };
}
