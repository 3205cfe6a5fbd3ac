/**
 * Serves the built front-end (src/ui/dist, committed: `npm run ui:build` writes it, a test checks it matches
 * the sources) and renders the HTML shell of each page: a title, landmarks, the bootstrap JSON the page
 * starts from, and the hashed script and style of its entry. Everything is same-origin; the Content-Security-
 * Policy forbids any other origin, so nothing a visitor types can leave for a third party.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));
export const UI_DIR = path.resolve(here, '..');
export const DIST_DIR = path.join(UI_DIR, 'dist');
const SAMPLES_DIR = path.join(UI_DIR, 'samples');

type Manifest = Record<string, { file: string; css?: string[]; isEntry?: boolean; imports?: string[] }>;

let manifest: Manifest | undefined;
function readManifest(): Manifest | undefined {
  if (manifest) return manifest;
  const file = path.join(DIST_DIR, '.vite', 'manifest.json');
  if (!existsSync(file)) return undefined;
  manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  return manifest;
}

const MIME: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.wav': 'audio/wav',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** A bundled sample (image or audio example), or undefined. */
export function sampleFile(name: string): { data: Buffer; mime: string } | undefined {
  if (!/^[\w.-]+$/.test(name)) return undefined;
  const file = path.join(SAMPLES_DIR, name);
  if (!existsSync(file)) return undefined;
  return { data: readFileSync(file), mime: MIME[path.extname(name)] ?? 'application/octet-stream' };
}

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a `<script type="application/json">` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export interface PageOptions {
  title: string;
  /** Source entry, as in the manifest: `web/spaces.tsx` or `web/console.tsx`. */
  entry: 'web/spaces.tsx' | 'web/console.tsx';
  bootstrap: unknown;
  /** Embeds (`?embed=1`) may be framed by any site; other pages by none. */
  frameable?: boolean;
}

export function sendPage(reply: FastifyReply, opts: PageOptions): FastifyReply {
  const m = readManifest();
  const entry = m?.[opts.entry];
  if (!entry) {
    return reply
      .code(503)
      .type('text/plain; charset=utf-8')
      .send('The web pages are not built. Run `npm run ui:build` (the built files normally ship in src/ui/dist).');
  }
  const css = [...(entry.css ?? []), ...(entry.imports ?? []).flatMap((i) => m![i]?.css ?? [])];
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(opts.title)}</title>
<link rel="icon" href="data:,">
${css.map((c) => `<link rel="stylesheet" href="/ui/${c}">`).join('\n')}
${(entry.imports ?? []).map((i) => `<link rel="modulepreload" href="/ui/${m![i]!.file}">`).join('\n')}
<script type="module" src="/ui/${entry.file}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<div id="app"><main id="main"><p>Loading…</p><noscript>This page needs JavaScript. The same model answers at the HTTP API described on the API tab and in the README.</noscript></main></div>
<script type="application/json" id="bootstrap">${scriptJson(opts.bootstrap)}</script>
</body>
</html>`;
  return reply
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', `${CSP}; frame-ancestors ${opts.frameable ? '*' : "'self'"}`)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .send(html);
}

/** `/ui/assets/*` (hashed, cached for a year) and `/ui/samples/*`. */
export function registerAssets(app: FastifyInstance): void {
  app.get<{ Params: { '*': string } }>('/ui/assets/*', async (request, reply) => {
    const name = request.params['*'];
    if (!/^[\w.-]+$/.test(name)) return reply.code(404).send({ error: 'No such asset' });
    const file = path.join(DIST_DIR, 'assets', name);
    if (!existsSync(file)) return reply.code(404).send({ error: `No asset ${name}: the page may be from an older build; reload it` });
    return reply
      .type(MIME[path.extname(name)] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(readFileSync(file));
  });
  app.get<{ Params: { name: string } }>('/ui/samples/:name', async (request, reply) => {
    const s = sampleFile(request.params.name);
    if (!s) return reply.code(404).send({ error: `No sample ${request.params.name}` });
    return reply.type(s.mime).header('cache-control', 'public, max-age=3600').send(s.data);
  });
}
