import type { RawImage } from '@huggingface/transformers';
import { itemError } from '../../core/tasks/item-error.ts';
import { withDecodedImages } from './images.ts';
import { labelOf } from './math.ts';
import { pngBase64 } from './png.ts';
import type { Pipe, TaskHandler, TensorLike } from './types.ts';

interface Semantic {
  segmentation: TensorLike & { dims: [number, number] };
  labels: number[];
}

/** The image processor's semantic post-processing (SegFormer's), as transformers.js' pipeline calls it. */
type SemanticPostProcess = (outputs: Record<string, TensorLike>, sizes: [number, number][]) => Semantic[];

function semanticPostProcessor(pipe: Pipe): SemanticPostProcess | undefined {
  const processor = pipe.processor as unknown as { image_processor?: { post_process_semantic_segmentation?: SemanticPostProcess } } | undefined;
  return processor?.image_processor?.post_process_semantic_segmentation?.bind(processor.image_processor);
}

/** One black-and-white mask per label that wins a pixel, in label order, as the pipeline builds them. */
function segments(pipe: Pipe, { segmentation, labels }: Semantic): unknown[] {
  const [height, width] = segmentation.dims;
  const winners = segmentation.data as Int32Array;
  return labels.map((label) => {
    const mask = new Uint8Array(winners.length);
    for (let i = 0; i < winners.length; i++) if (winners[i] === label) mask[i] = 255;
    return { label: labelOf(pipe.model.config, label), mask: pngBase64(mask, width, height, 1) };
  });
}

/**
 * Semantic segmentation over a batch, as transformers.js' image-segmentation pipeline does it for a single image:
 * the logits of each image are upsampled bilinearly to its size and every pixel goes to its best label. The
 * pipeline runs one image at a time; the post-processing takes a batch, so concurrent requests share a pass.
 * Instance and panoptic post-processing (DETR, Mask2Former) are not wired here: such a request is refused.
 */
export const imageSegmentation: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('image model without a processor');
  const postProcess = semanticPostProcessor(pipe);
  const subtask = (params.subtask as string | undefined) ?? 'semantic';
  if (!postProcess) return inputs.map(() => itemError('this model has no semantic segmentation post-processing; image-segmentation here runs SegFormer-style models'));
  if (subtask !== 'semantic') {
    return inputs.map(() => itemError(`parameters.subtask: this model does semantic segmentation only; "${subtask}" is not available (send "semantic" or leave it out)`));
  }
  return withDecodedImages(inputs, async (images: RawImage[]) => {
    const { pixel_values } = await pipe.processor!(images);
    const output = await pipe.model({ pixel_values });
    const sizes = images.map((im): [number, number] => [im.height, im.width]);
    return postProcess(output, sizes).map((s) => segments(pipe, s));
  });
};
