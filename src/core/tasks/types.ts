/** Task ids served here (a subset of @huggingface/tasks' pipeline types). */
export const TASK_IDS = [
  'text-classification',
  'token-classification',
  'zero-shot-classification',
  'fill-mask',
  'question-answering',
  'feature-extraction',
  'sentence-similarity',
  'text-generation',
  'text2text-generation',
  'summarization',
  'translation',
  'image-classification',
  'object-detection',
  'image-feature-extraction',
  'depth-estimation',
  'zero-shot-image-classification',
  'image-segmentation',
  'image-to-text',
  'voice-activity-detection',
  'automatic-speech-recognition',
  'audio-classification',
  'text-to-speech',
] as const;

export type TaskId = (typeof TASK_IDS)[number];

export function isTaskId(value: string): value is TaskId {
  return (TASK_IDS as readonly string[]).includes(value);
}

/** What a raw (non-JSON) request body carries for a task. */
export type InputModality = 'text' | 'image' | 'audio';
