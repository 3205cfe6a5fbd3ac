/** Shared by the audio route tests: the transformers.js pipeline's answer on our decoder's samples, and the long clip. */
import { decodeAudio } from '../../src/engine/audio.ts';
import { concat, speechSamples, wavBytes } from '../fixtures/audio/fixtures.ts';
import { reference } from '../helpers/reference.ts';

export interface AsrAnswer {
  text: string;
  chunks?: { text: string; timestamp: [number, number | null] }[];
}

/** transformers.js's own pipeline on the samples our decoder gives for the same file. */
export async function pipelineAsr(model: string, bytes: Uint8Array, options: Record<string, unknown> = {}): Promise<AsrAnswer> {
  const pipe = await reference('automatic-speech-recognition', model);
  const { samples } = await decodeAudio({ data: bytes }, 16000);
  return (await pipe(samples, options)) as AsrAnswer;
}

/** 95 seconds of espeak-ng speech: the committed clip again and again, with pauses of varied length between. */
export function longRecording(): Uint8Array {
  const clip = speechSamples();
  const parts: Float32Array[] = [];
  let length = 0;
  for (let i = 0; length < 95 * 16000; i++) {
    const gap = new Float32Array(((i * 7919) % 9) * 1600);
    parts.push(clip, gap);
    length += clip.length + gap.length;
  }
  return wavBytes([concat(...parts).subarray(0, 95 * 16000)], 16000);
}
