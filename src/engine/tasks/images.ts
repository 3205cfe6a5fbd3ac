/**
 * Decoding the images of a batch for the vision handlers. A file that does not decode fails only the request
 * that sent it (an ItemError in its place); the others of the batch still run.
 */
import { RawImage } from '@huggingface/transformers';
import type { BinaryInput } from '../../core/tasks/index.ts';
import { itemError, type ItemError } from '../../core/tasks/item-error.ts';

export const UNDECODABLE = 'inputs: the image could not be decoded; send a complete PNG, JPEG, WebP, GIF, TIFF or BMP file';

async function decodeImage(input: BinaryInput): Promise<RawImage | ItemError> {
  try {
    return await RawImage.fromBlob(new Blob([input.data as Uint8Array<ArrayBuffer>]));
  } catch {
    return itemError(UNDECODABLE);
  }
}

/**
 * Decodes every input, runs `run` once on the images that decoded (in order) and puts its per-image results back
 * in the places of their inputs, item errors in the others.
 */
export async function withDecodedImages(inputs: unknown[], run: (images: RawImage[]) => Promise<unknown[]>): Promise<unknown[]> {
  const decoded = await Promise.all((inputs as BinaryInput[]).map(decodeImage));
  const images = decoded.filter((d): d is RawImage => d instanceof RawImage);
  const results = images.length > 0 ? await run(images) : [];
  let next = 0;
  return decoded.map((d) => (d instanceof RawImage ? results[next++] : d));
}
