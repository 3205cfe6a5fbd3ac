import { itemError } from '../../core/tasks/item-error.ts';
import { withDecodedImages } from './images.ts';
import type { TaskHandler } from './types.ts';

const NO_POOLER = 'parameters.pool: this model has no pooled output; leave "pool" out to get the hidden states';

/**
 * Hidden states of a batch of images, the output chosen as the pipeline chooses it: pooler_output with `pool`, else
 * last_hidden_state (or logits / image_embeds for models without hidden states). Each image gets its row with a
 * leading 1, the shape the pipeline gives for one image.
 */
export const imageFeatureExtraction: TaskHandler = async ({ pipe }, inputs, params) =>
  withDecodedImages(inputs, async (images) => {
    const { pixel_values } = await pipe.processor!(images);
    const outputs = await pipe.model({ pixel_values });
    const tensor = params.pool ? outputs.pooler_output : (outputs.last_hidden_state ?? outputs.logits ?? outputs.image_embeds);
    if (!tensor) return images.map(() => itemError(NO_POOLER));
    const rows = tensor.tolist() as unknown[];
    return images.map((_, i) => [rows[i]]);
  });
