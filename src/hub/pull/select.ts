/**
 * Which files of a repo a pull takes. By default only what the runtime reads: the card, config, tokenizer and
 * pre-processor files, sentence-transformers module settings, and one ONNX variant from `onnx/` (every session of it, e.g. encoder
 * and decoder, with its external-data files). `--include` replaces that selection with the files matching its
 * globs, `--exclude` removes files from it, `--all` takes everything.
 *
 * Globs follow huggingface_hub's `allow_patterns` (Python fnmatch): `*` also matches `/`, so `*.json` matches
 * `onnx/x.json`, and a pattern ending in `/` means everything under that folder.
 */
import { PullError } from './errors.ts';

/**
 * transformers.js's file-name suffix per dtype (`DEFAULT_DTYPE_SUFFIX_MAPPING` in
 * @huggingface/transformers src/utils/dtypes.js; a test checks this copy against it).
 */
export const DTYPE_SUFFIXES = {
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  q8: '_quantized',
  q4: '_q4',
  q2: '_q2',
  q1: '_q1',
  q4f16: '_q4f16',
  q2f16: '_q2f16',
  q1f16: '_q1f16',
  bnb4: '_bnb4',
} as const;

export type Dtype = keyof typeof DTYPE_SUFFIXES;
export const DTYPES = Object.keys(DTYPE_SUFFIXES) as Dtype[];

/** The variants modelhost's engine loads, in its order of preference (src/engine/runtimes/transformers.ts). */
export const ENGINE_DTYPES: readonly Dtype[] = ['fp32', 'q8'];

export interface Selection {
  include?: string[];
  exclude?: string[];
  all?: boolean;
  /** An ONNX variant, or 'auto': the one the engine would load. */
  dtype?: Dtype | 'auto';
}

/** fnmatch → RegExp. */
export function globToRegExp(glob: string): RegExp {
  const pattern = glob.endsWith('/') ? `${glob}*` : glob;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = pattern.slice(i + 1, end);
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const ONNX = /^onnx\/([^/]+)\.onnx(_data(_\d+)?)?$/;
/** Longest suffix first, so `_q4f16` is not read as `_fp16`'s neighbour or `_q4`. */
const SUFFIXES = (Object.entries(DTYPE_SUFFIXES) as [Dtype, string][]).filter(([, s]) => s).sort((a, b) => b[1].length - a[1].length);

/** The dtype of an `onnx/<session><suffix>.onnx[_data[_N]]` file, or undefined for any other file. */
export function variantOf(file: string): Dtype | undefined {
  const m = ONNX.exec(file);
  if (!m) return undefined;
  const stem = m[1]!;
  return SUFFIXES.find(([, s]) => stem.endsWith(s))?.[0] ?? 'fp32';
}

/**
 * Files the runtime reads besides weights: the card, configs, tokenizer and pre-processor files at the top, and
 * the JSON settings of sentence-transformers modules (`1_Pooling/config.json`, named in modules.json).
 */
function isRuntimeFile(file: string): boolean {
  if (!file.includes('/')) return file === 'README.md' || /\.(json|txt|model|tiktoken)$/.test(file);
  return !file.startsWith('onnx/') && file.endsWith('.json');
}

/** The dtypes present in a repo's onnx/ folder. */
export function availableDtypes(files: string[]): Dtype[] {
  return [...new Set(files.map(variantOf).filter((d): d is Dtype => d !== undefined))];
}

/** Picks the files to pull from a repo's file list; throws a one-line PullError when nothing fits. */
export function selectFiles(files: string[], repo: string, sel: Selection = {}): { files: string[]; dtype?: Dtype } {
  let chosen: string[];
  let dtype: Dtype | undefined;
  if (sel.all) chosen = [...files];
  else if (sel.include?.length) {
    chosen = [];
    for (const glob of sel.include) {
      const re = globToRegExp(glob);
      const hits = files.filter((f) => re.test(f));
      if (hits.length === 0) throw new PullError('entry_not_found', `no file in ${repo} matches --include ${glob}`);
      chosen.push(...hits);
    }
  } else {
    const present = availableDtypes(files);
    if (present.length === 0) {
      throw new PullError('no_runnable_files', `${repo} has no ONNX weights (onnx/*.onnx), which modelhost needs; use --all or --include to pull it anyway`);
    }
    if (!sel.dtype || sel.dtype === 'auto') {
      dtype = ENGINE_DTYPES.find((d) => present.includes(d));
      if (!dtype) {
        throw new PullError('no_runnable_files', `${repo} has ONNX weights only as ${present.join(', ')}; modelhost's engine loads ${ENGINE_DTYPES.join(' or ')}. Pick one with --dtype to pull it anyway`);
      }
    } else {
      dtype = sel.dtype;
      if (!present.includes(dtype)) throw new PullError('entry_not_found', `${repo} has no ${dtype} ONNX weights (it has: ${present.join(', ')})`);
    }
    chosen = files.filter((f) => isRuntimeFile(f) || variantOf(f) === dtype);
  }
  if (sel.exclude?.length) {
    const res = sel.exclude.map(globToRegExp);
    chosen = chosen.filter((f) => !res.some((re) => re.test(f)));
  }
  return { files: [...new Set(chosen)].sort(), dtype };
}
