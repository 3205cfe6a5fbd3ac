import { applyFunction, defaultFunction, labelOf, row, topIndices } from './math.ts';
import type { TaskHandler } from './types.ts';

/** Scores every label (or `top_k`), with `function_to_apply` as in transformers' pipeline. */
export const textClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  const encoded = pipe.tokenizer(inputs as string[], { padding: true, truncation: true });
  const { logits } = await pipe.model(encoded);
  const [batch = 0, numLabels = 0] = logits!.dims;
  const fn = (params.function_to_apply as 'softmax' | 'sigmoid' | 'none' | undefined) ?? defaultFunction(pipe.model.config, numLabels);
  return Array.from({ length: batch }, (_, i) => {
    const scores = applyFunction(row(logits!.data as Float32Array, i, numLabels), fn);
    return topIndices(scores, params.top_k as number | null | undefined).map((j) => ({
      label: labelOf(pipe.model.config, j),
      score: scores[j]!,
    }));
  });
};
