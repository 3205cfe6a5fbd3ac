/**
 * Tasks modelhost routes to hosted providers but does not run locally: what a raw body carries for them and
 * the checks made before a call leaves (so a bad request is a 400 here, not a paid failure upstream).
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { nonEmptyText, validate } from './spec.ts';
import type { InputModality } from './types.ts';

const imageInput = /^(image-|object-detection|depth-estimation|zero-shot-image|image$)/;
const audioInput = /^(automatic-speech-recognition|audio-)/;

export function modalityOf(task: string): InputModality {
  if (imageInput.test(task)) return 'image';
  if (audioInput.test(task)) return 'audio';
  return 'text';
}

const textToImageParams = z
  .object({
    width: z.number().int().min(64).max(4096),
    height: z.number().int().min(64).max(4096),
    num_inference_steps: z.number().int().min(1).max(200),
    guidance_scale: z.number().min(0).max(50),
    negative_prompt: z.string(),
    seed: z.number().int().min(0),
    scheduler: z.string(),
  })
  .partial()
  .loose();

/** Checks what can be checked for a hosted task; tasks without rules pass through to the provider. */
export function checkHostedRequest(task: string, inputs: unknown, parameters: Record<string, unknown>): void {
  if (task === 'text-to-image' || task === 'text-to-speech' || task === 'text-to-audio' || task === 'text-to-video') {
    validate(nonEmptyText, inputs, 'inputs');
  }
  if (task === 'text-to-image') validate(textToImageParams, parameters, 'parameters');
  if (modalityOf(task) === 'text' && inputs !== undefined && typeof inputs === 'object' && inputs && 'data' in inputs) {
    throw new InputError(`${task} takes text; send JSON {"inputs": "..."}`);
  }
}
