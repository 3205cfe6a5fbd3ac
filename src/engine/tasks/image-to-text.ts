import type { RawImage } from '@huggingface/transformers';
import type { ImageToTextParams } from '../../core/tasks/image-to-text.ts';
import { withDecodedImages } from './images.ts';
import type { Model, TaskHandler } from './types.ts';

/** Token ids that end a caption, from generation_config.json (else config.json). */
function eosIds(model: Model): Set<number> {
  const gen = (model as unknown as { generation_config?: { eos_token_id?: number | number[] } }).generation_config;
  const value = gen?.eos_token_id ?? (model.config.eos_token_id as number | number[] | undefined);
  return new Set(value === undefined ? [] : Array.isArray(value) ? value : [value]);
}

/**
 * Captions for a batch of images, as transformers.js' ImageToTextPipeline makes them one image at a time: the
 * processor's pixel values, greedy `model.generate` (the model's generation config unless `max_new_tokens` is
 * given), decoded without special tokens and trimmed. Here the images of concurrent requests are generated together;
 * generate keeps stepping a row that has reached end-of-sequence while the others go on, so each row is cut at its
 * first eos and gets the caption it gets alone.
 */
export const imageToText: TaskHandler = async ({ pipe }, inputs, params) => {
  if (!pipe.processor) throw new Error('image model without a processor');
  const p = params as ImageToTextParams;
  return withDecodedImages(inputs, async (images: RawImage[]) => {
    const { pixel_values } = await pipe.processor!(images);
    const output = await pipe.model.generate({ inputs: pixel_values, ...(p.max_new_tokens !== undefined ? { max_new_tokens: p.max_new_tokens } : {}) });
    const eos = eosIds(pipe.model);
    return (output.tolist() as bigint[][]).map((row) => {
      // Position 0 is the decoder's start token.
      const generated = row.slice(1).map(Number);
      const end = generated.findIndex((id) => eos.has(id));
      const kept = end < 0 ? generated : generated.slice(0, end + 1);
      return { generated_text: pipe.tokenizer.decode(kept, { skip_special_tokens: true }).trim() };
    });
  });
};
