/**
 * text-to-speech on VITS-style models: transformers.js's text-to-audio pipeline itself (tokenizer → model →
 * `waveform`, the rate from config.json), so the samples are the pipeline's; then the file the caller asked for
 * (src/engine/audio/encode.ts). Each text runs alone (the task is not batchable): in a padded batch the shorter
 * texts would get the padding's audio too.
 */
import { itemError } from '../../core/tasks/item-error.ts';
import type { SpeechParams } from '../../core/tasks/text-to-speech.ts';
import { encodeSpeech } from '../audio/encode.ts';
import type { Pipe, TaskHandler } from './types.ts';

interface RawAudio {
  audio: Float32Array;
  sampling_rate: number;
}

/** The characters the tokenizer maps to themselves, for the message when a text has none of them. */
function alphabet(pipe: Pipe): string {
  const vocab = pipe.tokenizer.get_vocab();
  const tokens = vocab instanceof Map ? [...vocab.keys()] : Object.keys(vocab);
  const pad = (pipe.tokenizer as unknown as { pad_token?: string }).pad_token;
  return tokens
    .filter((t) => [...t].length === 1 && t !== pad)
    .sort()
    .join('');
}

export const textToSpeech: TaskHandler = async ({ pipe }, inputs, params) => {
  const results: unknown[] = [];
  for (const text of inputs as string[]) {
    // The normaliser drops characters outside the vocabulary: a text of only those leaves nothing to speak.
    if (pipe.tokenizer(text).input_ids.dims.at(-1) === 0) {
      results.push(itemError(`inputs: the text has no character this model can speak (it reads ${JSON.stringify(alphabet(pipe))})`));
      continue;
    }
    const out = (await pipe(text)) as RawAudio;
    results.push(await encodeSpeech(out.audio, out.sampling_rate, params as unknown as SpeechParams));
  }
  return results;
};
