/**
 * Which files a folder model stores "in LFS": the Hub serves those with `X-Linked-Etag` (their SHA-256) and
 * `X-Linked-Size`, and lists them with `lfs: {sha256 | oid, size, pointerSize}`. On the Hub the repository's
 * .gitattributes decides; folders have none, so this follows the Hub's default .gitattributes (binary weight
 * and archive formats) plus its rule that files of 10 MiB or more must go through LFS. HF-cache models need
 * no rule: a blob named by a 64-hex SHA-256 is an LFS file, one named by a 40-hex SHA-1 is not.
 */
const LFS_EXTENSIONS = new Set([
  'onnx', 'onnx_data', 'ort', 'bin', 'safetensors', 'pt', 'pth', 'ckpt', 'h5', 'msgpack', 'ot', 'tflite', 'pb', 'mlmodel',
  'ftz', 'gguf', 'ggml', 'model', 'npy', 'npz', 'pkl', 'pickle', 'joblib', 'arrow', 'parquet', 'wasm',
  'tar', 'tgz', 'gz', 'zip', 'zst', 'xz', 'bz2', 'lz4', '7z', 'rar',
]); // prettier-ignore

export const LFS_MIN_BYTES = 10 * 1024 ** 2;

/** Whether the Hub would keep this file in LFS. */
export function isLfsFile(path: string, size: number): boolean {
  if (size >= LFS_MIN_BYTES) return true;
  // External ONNX weights are numbered: model.onnx_data, model.onnx_data_1, ...
  const ext = /\.([A-Za-z0-9_]+)$/.exec(path)?.[1]?.toLowerCase().replace(/^onnx_data_\d+$/, 'onnx_data');
  return ext !== undefined && LFS_EXTENSIONS.has(ext);
}

/** The Git LFS pointer text that stands for the content in git (and that `/raw/` serves for LFS files). */
export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}
