import type { RawImage } from '@huggingface/transformers';
import { labelOf } from './math.ts';
import { withDecodedImages } from './images.ts';
import type { Pipe, TaskHandler, TensorLike } from './types.ts';

interface Detections {
  boxes: number[][];
  classes: number[];
  scores: number[];
}

/** The image processor's DETR/YOLOS post-processing, as transformers.js' object-detection pipeline calls it. */
type PostProcess = (outputs: Record<string, TensorLike>, threshold: number, sizes: [number, number][]) => Detections[];

function postProcessor(pipe: Pipe): PostProcess {
  const processor = pipe.processor as unknown as { image_processor?: { post_process_object_detection?: PostProcess } } | undefined;
  const fn = processor?.image_processor?.post_process_object_detection;
  if (!fn) throw new Error('object-detection model without a DETR/YOLOS image processor');
  return fn.bind(processor.image_processor);
}

/**
 * DETR/YOLOS detection over a batch: the images of concurrent requests are resized to the processor's size and run
 * together; each box is scaled back to its own image in pixels, truncated to integers as the pipeline does.
 */
export const objectDetection: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('image model without a processor');
  const postProcess = postProcessor(pipe);
  return withDecodedImages(inputs, async (images: RawImage[]) => {
    const { pixel_values, pixel_mask } = await pipe.processor!(images);
    const output = await pipe.model({ pixel_values, pixel_mask });
    const sizes = images.map((im): [number, number] => [im.height, im.width]);
    return postProcess(output, params.threshold as number, sizes).map((d) =>
      d.boxes.map((box, i) => {
        const [xmin = 0, ymin = 0, xmax = 0, ymax = 0] = box.map((x) => x | 0);
        return { score: d.scores[i]!, label: labelOf(pipe.model.config, d.classes[i]!), box: { xmin, ymin, xmax, ymax } };
      }),
    );
  });
};
