/** Small numeric helpers shared by the task handlers (float32 rows, like transformers.js computes them). */
export function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const exps = Array.from(row, (x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export function sigmoid(row: ArrayLike<number>): number[] {
  return Array.from(row, (x) => 1 / (1 + Math.exp(-x)));
}

export function applyFunction(row: ArrayLike<number>, fn: 'softmax' | 'sigmoid' | 'none'): number[] {
  if (fn === 'softmax') return softmax(row);
  if (fn === 'sigmoid') return sigmoid(row);
  return Array.from(row);
}

/** Row `i` of a [rows, width] float tensor stored flat. */
export function row(data: ArrayLike<number>, i: number, width: number): Float32Array {
  return Float32Array.from({ length: width }, (_, j) => data[i * width + j]!);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Indices of the `k` largest values, largest first (all of them when k is null). */
export function topIndices(values: number[], k: number | null | undefined): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
  return k == null ? order : order.slice(0, k);
}

export function labelOf(config: { id2label?: Record<string, string> }, index: number): string {
  return config.id2label?.[String(index)] ?? `LABEL_${index}`;
}

/** Chooses the score function as transformers does when the caller names none. */
export function defaultFunction(config: { problem_type?: string }, numLabels: number): 'softmax' | 'sigmoid' {
  return config.problem_type === 'multi_label_classification' || numLabels === 1 ? 'sigmoid' : 'softmax';
}

export function l2normalize(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb) || 1);
}
