import { InputError } from '../../core/errors.ts';
import type { TaskHandler } from './types.ts';

interface ZeroShotResult {
  sequence: string;
  labels: string[];
  scores: number[];
}

/** transformers.js's NLI-based pipeline; answers the legacy `{sequence, labels, scores}` shape. */
export const zeroShotClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  const labels = Object.values(pipe.model.config.id2label ?? {}).map((l) => l.toLowerCase());
  if (!labels.some((l) => l.startsWith('entail'))) {
    throw new InputError('this model has no "entailment" label, so it cannot do zero-shot classification');
  }
  const out: ZeroShotResult[] = [];
  for (const text of inputs as string[]) {
    out.push(
      (await pipe(text, params.candidate_labels, {
        hypothesis_template: params.hypothesis_template,
        multi_label: params.multi_label,
      })) as ZeroShotResult,
    );
  }
  return out;
};
