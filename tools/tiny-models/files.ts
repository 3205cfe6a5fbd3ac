/**
 * Writing model folders: README model card, `.factory-version` stamp, atomic replacement.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuiltModel, ModelCard, ModelFiles } from './spec.ts';

/** Human-readable factory version, first word of every stamp. */
export const FACTORY_VERSION = '1';

export const STAMP_FILE = '.factory-version';

/**
 * Hash of the factory's own source files (not the CLI). Any code change, e.g. a new word in the
 * vocabulary, changes every stamp, so stale models are rebuilt without anyone remembering to bump
 * FACTORY_VERSION.
 */
let sourceHash: string | null = null;
function factorySourceHash(): string {
  if (sourceHash === null) {
    const here = dirname(fileURLToPath(import.meta.url));
    // Compiled into dist/tools/tiny-models/ (npm run build), the factory still hashes its TypeScript sources: a stamp
    // then means the same whether tests (from the sources) or npm start (compiled) wrote the models.
    const sources = existsSync(join(here, 'files.ts')) ? here : resolve(here, '../../../tools/tiny-models');
    const hash = createHash('sha256');
    for (const name of readdirSync(sources).filter((f) => f.endsWith('.ts') && f !== 'main.ts').sort()) {
      hash.update(`${name}\n`).update(readFileSync(join(sources, name)));
    }
    sourceHash = hash.digest('hex');
  }
  return sourceHash;
}

/** The stamp written into each folder; a folder with the same stamp is up to date. */
export function stampFor(id: string, stampKey: string): string {
  const hash = createHash('sha256').update(`${factorySourceHash()}\n${id}\n${stampKey}`).digest('hex').slice(0, 16);
  return `tiny-models v${FACTORY_VERSION} ${hash}\n`;
}

export async function readStamp(folder: string): Promise<string | null> {
  try {
    return await readFile(join(folder, STAMP_FILE), 'utf8');
  } catch {
    return null;
  }
}

export function modelCard(id: string, card: ModelCard): string {
  const tags = [...new Set(card.tags)];
  return [
    '---',
    `pipeline_tag: ${card.pipelineTag}`,
    'library_name: transformers.js',
    'license: apache-2.0',
    'tags:',
    ...tags.map((t) => `  - ${t}`),
    '---',
    '',
    `# ${id}`,
    '',
    'A generated tiny test model, written by `tools/tiny-models` (`npm run models:tiny`). Its weights are',
    'seeded random numbers, so its predictions are deterministic but meaningless: use it to test loading,',
    'batching and the API, never for real answers.',
    '',
    card.summary,
    '',
  ].join('\n');
}

function contentBytes(content: ModelFiles[string]): string | Uint8Array {
  if (typeof content === 'string' || content instanceof Uint8Array) return content;
  return `${JSON.stringify(content, null, 2)}\n`;
}

/**
 * Writes the folder `<outDir>/<id>` with the model's files, README.md and the stamp.
 * Everything goes to a sibling temp folder first and is renamed into place, so a crash never
 * leaves a half-written folder that looks current (the stamp is only there when all files are).
 */
export async function writeModelFolder(outDir: string, model: BuiltModel, stamp: string): Promise<string> {
  const folder = join(outDir, model.id);
  const tmp = `${folder}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  const files: ModelFiles = { ...model.files, 'README.md': modelCard(model.id, model.card), [STAMP_FILE]: stamp };
  for (const [rel, content] of Object.entries(files)) {
    const path = join(tmp, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, contentBytes(content));
  }
  await rm(folder, { recursive: true, force: true });
  await rename(tmp, folder);
  return folder;
}
