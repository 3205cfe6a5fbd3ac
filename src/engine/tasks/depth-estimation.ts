import { interpolate_4d, type Tensor } from '@huggingface/transformers';
import { withDecodedImages } from './images.ts';
import { pngBase64 } from './png.ts';
import type { TaskHandler } from './types.ts';

/**
 * Depth of a batch of images, post-processed as transformers.js' depth-estimation pipeline does: each map is
 * interpolated bilinearly to its image's size, then scaled to 0..255 between its own minimum and maximum for the PNG.
 */
export const depthEstimation: TaskHandler = async ({ pipe }, inputs) =>
  withDecodedImages(inputs, async (images) => {
    const outputs = await pipe.model(await pipe.processor!(images));
    const predicted = outputs.predicted_depth as unknown as Tensor;
    if (!predicted) throw new Error('the model returned no predicted_depth');
    const [height = 0, width = 0] = predicted.dims.slice(-2);
    const results: unknown[] = [];
    for (const [i, image] of images.entries()) {
      const [w, h] = image.size;
      const item = (predicted as unknown as Tensor[])[i]!;
      const prediction = (await interpolate_4d(item.view(1, 1, height, width), { size: [h, w], mode: 'bilinear' })).view(h, w);
      const min = prediction.min().item() as number;
      const max = prediction.max().item() as number;
      const grey = prediction.sub(min).div_(max - min).mul_(255).to('uint8');
      results.push({ predicted_depth: prediction.tolist(), depth: pngBase64(grey.data as Uint8Array, w, h, 1) });
    }
    return results;
  });
