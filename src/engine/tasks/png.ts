import { PNG } from 'pngjs';

/** A greyscale (1 channel) or RGBA image's bytes as a base64 PNG: how image outputs travel in JSON answers. */
export function pngBase64(data: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: 1 | 4): string {
  const png = new PNG({ width, height, colorType: channels === 1 ? 0 : 6, inputColorType: channels === 1 ? 0 : 6, inputHasAlpha: channels === 4 });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, { colorType: channels === 1 ? 0 : 6, inputColorType: channels === 1 ? 0 : 6, inputHasAlpha: channels === 4 }).toString('base64');
}
