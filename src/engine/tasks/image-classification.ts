import { RawImage } from '@huggingface/transformers';
import { InputError } from '../../core/errors.ts';
import type { BinaryInput } from '../../core/tasks/index.ts';
import { applyFunction, defaultFunction, labelOf, row, topIndices } from './math.ts';
import type { TaskHandler } from './types.ts';

async function decodeImage(input: BinaryInput): Promise<RawImage> {
  try {
    return await RawImage.fromBlob(new Blob([input.data as Uint8Array<ArrayBuffer>]));
  } catch {
    throw new InputError('inputs: the image could not be decoded; send a complete PNG, JPEG, WebP, GIF, TIFF or BMP file');
  }
}

export const imageClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('image model without a processor');
  const images = await Promise.all((inputs as BinaryInput[]).map(decodeImage));
  const processed = await pipe.processor(images);
  const { logits } = await pipe.model(processed);
  const [batch = 0, numLabels = 0] = logits!.dims;
  const fn = (params.function_to_apply as 'softmax' | 'sigmoid' | 'none' | undefined) ?? defaultFunction(pipe.model.config, numLabels);
  return Array.from({ length: batch }, (_, i) => {
    const scores = applyFunction(row(logits!.data as Float32Array, i, numLabels), fn);
    return topIndices(scores, params.top_k as number).map((j) => ({ label: labelOf(pipe.model.config, j), score: scores[j]! }));
  });
};
