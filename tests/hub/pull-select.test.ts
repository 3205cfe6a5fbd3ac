/** Which files a pull takes (src/hub/pull/select.ts): dtype variants, runtime files, globs. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { DTYPE_SUFFIXES, globToRegExp, selectFiles, variantOf } from '../../src/hub/pull/select.ts';
import { parseTarget } from '../../src/hub/pull/pull.ts';

const REPO = [
  'README.md',
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'preprocessor_config.json',
  'merges.txt',
  '1_Pooling/config.json',
  'model.safetensors',
  'pytorch_model.bin',
  'onnx/model.onnx',
  'onnx/model_fp16.onnx',
  'onnx/model_quantized.onnx',
  'onnx/model_q4.onnx',
  'onnx/model_q4f16.onnx',
  'onnx/decoder_model_merged_q4.onnx',
  'onnx/model_q4.onnx_data',
  'onnx/model_q4.onnx_data_1',
];

describe('pull file selection', () => {
  it("names dtypes as transformers.js does (its DEFAULT_DTYPE_SUFFIX_MAPPING)", () => {
    const source = readFileSync(path.join(REPO_ROOT, 'node_modules/@huggingface/transformers/src/utils/dtypes.js'), 'utf8');
    const block = /DEFAULT_DTYPE_SUFFIX_MAPPING = Object\.freeze\(\{([\s\S]*?)\}\)/.exec(source)![1]!;
    const theirs = Object.fromEntries([...block.matchAll(/DATA_TYPES\.(\w+)\]:\s*'([^']*)'/g)].map((m) => [m[1], m[2]]));
    expect(DTYPE_SUFFIXES).toEqual(theirs);
  });

  it('tells the variant of an ONNX file by its longest suffix', () => {
    expect(variantOf('onnx/model.onnx')).toBe('fp32');
    expect(variantOf('onnx/model_q4f16.onnx')).toBe('q4f16');
    expect(variantOf('onnx/model_quantized.onnx')).toBe('q8');
    expect(variantOf('onnx/model_q4.onnx_data_1')).toBe('q4');
    expect(variantOf('model.onnx')).toBeUndefined();
  });

  it('takes by default the runtime files and the variant the engine loads (fp32, else q8)', () => {
    expect(selectFiles(REPO, 'o/m')).toEqual({
      dtype: 'fp32',
      files: ['1_Pooling/config.json', 'README.md', 'config.json', 'merges.txt', 'onnx/model.onnx', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'],
    });
    expect(selectFiles(REPO.filter((f) => f !== 'onnx/model.onnx'), 'o/m').files).toContain('onnx/model_quantized.onnx');
  });

  it('takes every session of a chosen dtype with its external data', () => {
    const { files } = selectFiles(REPO, 'o/m', { dtype: 'q4' });
    expect(files.filter((f) => f.startsWith('onnx/'))).toEqual(['onnx/decoder_model_merged_q4.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'onnx/model_q4.onnx_data_1']);
  });

  it('replaces the selection with --include, trims it with --exclude, or takes --all', () => {
    expect(selectFiles(REPO, 'o/m', { include: ['*.json'] }).files).toEqual(['1_Pooling/config.json', 'config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(selectFiles(REPO, 'o/m', { include: ['onnx/'], exclude: ['*_data*', '*q4*'] }).files).toEqual(['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_quantized.onnx']);
    expect(selectFiles(REPO, 'o/m', { all: true }).files).toHaveLength(REPO.length);
    expect(globToRegExp('model_[!q]*.onnx').test('model_fp16.onnx')).toBe(true);
    expect(globToRegExp('model_[!q]*.onnx').test('model_q4.onnx')).toBe(false);
  });

  it('fails in one line when nothing fits', () => {
    expect(() => selectFiles(['README.md', 'model.safetensors'], 'o/m')).toThrow('o/m has no ONNX weights (onnx/*.onnx), which modelhost needs; use --all or --include to pull it anyway');
    expect(() => selectFiles(['onnx/model_q4.onnx'], 'o/m')).toThrow(/only as q4; modelhost's engine loads fp32 or q8/);
    expect(() => selectFiles(REPO, 'o/m', { dtype: 'bnb4' })).toThrow('o/m has no bnb4 ONNX weights (it has: fp32, fp16, q8, q4, q4f16)');
    expect(() => selectFiles(REPO, 'o/m', { include: ['*.gguf'] })).toThrow('no file in o/m matches --include *.gguf');
  });

  it('reads org/name[@revision] and refuses what is not a repo id', () => {
    expect(parseTarget('Xenova/gpt2')).toEqual({ repo: 'Xenova/gpt2', revision: 'main' });
    expect(parseTarget('Xenova/gpt2@refs/pr/3')).toEqual({ repo: 'Xenova/gpt2', revision: 'refs/pr/3' });
    expect(parseTarget('gpt2@v1')).toEqual({ repo: 'gpt2', revision: 'v1' });
    for (const bad of ['../x', 'a/b/c', 'a--b/c', 'org/name@', '']) expect(() => parseTarget(bad)).toThrow();
  });
});
