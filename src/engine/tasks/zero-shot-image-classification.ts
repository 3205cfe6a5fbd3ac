import { row, sigmoid, softmax } from './math.ts';
import { withDecodedImages } from './images.ts';
import type { TaskHandler } from './types.ts';

/**
 * CLIP / SigLIP zero-shot classification of a batch of images against one set of labels (requests with the same
 * labels and template share the batch): the label texts are encoded once per batch, as the pipeline encodes them
 * (SigLIP pads to max_length), and each image's logits_per_image row is turned into scores.
 */
export const zeroShotImageClassification: TaskHandler = async ({ pipe }, inputs, params) =>
  withDecodedImages(inputs, async (images) => {
    const labels = params.candidate_labels as string[];
    const template = params.hypothesis_template as string;
    const siglip = pipe.model.config.model_type === 'siglip';
    const texts = labels.map((label) => template.replace('{}', label));
    const textInputs = pipe.tokenizer(texts, { padding: siglip ? 'max_length' : true, truncation: true });
    const { pixel_values } = await pipe.processor!(images);
    const { logits_per_image } = await pipe.model({ ...textInputs, pixel_values });
    return images.map((_, i) => {
      const logits = row(logits_per_image!.data as Float32Array, i, labels.length);
      const scores = siglip ? sigmoid(logits) : softmax(logits);
      return scores.map((score, j) => ({ score, label: labels[j]! })).sort((a, b) => b.score - a.score);
    });
  });
