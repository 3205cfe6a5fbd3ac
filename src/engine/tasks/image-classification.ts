import { RawImage } from '@huggingface/transformers';
import type { BinaryInput } from '../../core/tasks/index.ts';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';
import { applyFunction, defaultFunction, labelOf, row, topIndices } from './math.ts';
import type { TaskHandler } from './types.ts';

const UNDECODABLE = 'inputs: the image could not be decoded; send a complete PNG, JPEG, WebP, GIF, TIFF or BMP file';

async function decodeImage(input: BinaryInput): Promise<RawImage | ItemError> {
  try {
    return await RawImage.fromBlob(new Blob([input.data as Uint8Array<ArrayBuffer>]));
  } catch {
    return itemError(UNDECODABLE);
  }
}

/**
 * A file that does not decode fails only the request that sent it: the other images of the batch (other
 * requests) are still classified.
 */
export const imageClassification: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('image model without a processor');
  const decoded = await Promise.all((inputs as BinaryInput[]).map(decodeImage));
  const images = decoded.filter((d): d is RawImage => d instanceof RawImage);
  const results: unknown[] = [];
  if (images.length > 0) {
    const processed = await pipe.processor(images);
    const { logits } = await pipe.model(processed);
    const [batch = 0, numLabels = 0] = logits!.dims;
    const fn = (params.function_to_apply as 'softmax' | 'sigmoid' | 'none' | undefined) ?? defaultFunction(pipe.model.config, numLabels);
    for (let i = 0; i < batch; i++) {
      const scores = applyFunction(row(logits!.data as Float32Array, i, numLabels), fn);
      results.push(topIndices(scores, params.top_k as number).map((j) => ({ label: labelOf(pipe.model.config, j), score: scores[j]! })));
    }
  }
  let next = 0;
  return decoded.map((d) => (d instanceof RawImage ? results[next++] : d));
};
