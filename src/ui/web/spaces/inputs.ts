/**
 * What a visitor gives a Space page: the form's values (seeded from the URL, so a link carries them, or from an
 * example), a picked file, and the chat so far.
 */
import type { SpaceExample, SpaceTask } from '../../server/catalog.ts';

export interface Inputs {
  text: string;
  context: string;
  candidate_labels: string;
  multi_class: boolean;
  source_sentence: string;
  sentences: string[];
  max_new_tokens: number;
  temperature: number;
  top_p: number;
  /** Translation: the target language (tgt_lang), for models that translate into several. */
  tgt_lang: string;
  /** Object detection: the lowest score a box is shown at (the pipeline's 0.9 by default). */
  threshold: number;
}

export const EMPTY: Inputs = { text: '', context: '', candidate_labels: '', multi_class: false, source_sentence: '', sentences: ['', ''], max_new_tokens: 20, temperature: 1, top_p: 1, tgt_lang: '', threshold: 0.9 };

export function fromUrl(): Partial<Inputs> {
  const p = new URLSearchParams(location.search);
  const out: Partial<Inputs> = {};
  for (const k of ['text', 'context', 'candidate_labels', 'source_sentence', 'tgt_lang'] as const) {
    const v = p.get(k);
    if (v !== null) out[k] = v;
  }
  if (p.get('multi_class') !== null) out.multi_class = p.get('multi_class') === 'true';
  if (p.getAll('sentences').length) out.sentences = p.getAll('sentences');
  return out;
}

export function fromExample(e: SpaceExample): Partial<Inputs> {
  const out: Partial<Inputs> = {};
  if (e.text !== undefined) out.text = e.text;
  if (e.context !== undefined) out.context = e.context;
  if (e.candidate_labels !== undefined) out.candidate_labels = e.candidate_labels;
  if (e.multi_class !== undefined) out.multi_class = e.multi_class;
  if (e.source_sentence !== undefined) out.source_sentence = e.source_sentence;
  if (e.sentences) out.sentences = [...e.sentences];
  if (e.messages?.length) out.text = e.messages[e.messages.length - 1]!.content;
  return out;
}

/** Tasks whose input is one image file. */
export const IMAGE_TASKS: readonly SpaceTask[] = ['image-classification', 'object-detection', 'image-segmentation', 'depth-estimation', 'zero-shot-image-classification', 'image-to-text', 'image-feature-extraction'];

/** Tasks whose input is one audio file (chosen or recorded). */
export const AUDIO_TASKS: readonly SpaceTask[] = ['voice-activity-detection', 'audio-classification'];

/** Tasks whose page sends the picked file as the raw request body; the others send it as base64 JSON with parameters. */
const WITH_PARAMETERS: readonly SpaceTask[] = ['zero-shot-image-classification', 'object-detection'];
export function sendsRawFile(task: SpaceTask): boolean {
  return AUDIO_TASKS.includes(task) || (IMAGE_TASKS.includes(task) && !WITH_PARAMETERS.includes(task));
}

/** A file as a data: URL, which the HF routes take wherever they take base64. */
export function dataUrlOf(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('the file could not be read'));
    reader.readAsDataURL(blob);
  });
}

export interface Picked {
  blob: Blob;
  name: string;
  url: string;
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}
