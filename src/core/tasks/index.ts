import { audioClassification } from './audio-classification.ts';
import { automaticSpeechRecognition } from './automatic-speech-recognition.ts';
import { featureExtraction } from './feature-extraction.ts';
import { fillMask } from './fill-mask.ts';
import { imageClassification } from './image-classification.ts';
import { depthEstimation } from './depth-estimation.ts';
import { imageFeatureExtraction } from './image-feature-extraction.ts';
import { imageSegmentation } from './image-segmentation.ts';
import { imageToText } from './image-to-text.ts';
import { objectDetection } from './object-detection.ts';
import { questionAnswering } from './question-answering.ts';
import { sentenceSimilarity } from './sentence-similarity.ts';
import { summarization } from './summarization.ts';
import type { TaskSpec } from './spec.ts';
import { textClassification } from './text-classification.ts';
import { textGeneration } from './text-generation.ts';
import { textToSpeech } from './text-to-speech.ts';
import { isSeq2SeqTask, SEQ2SEQ_TASKS, text2textGeneration } from './text2text-generation.ts';
import { tokenClassification } from './token-classification.ts';
import { translation } from './translation.ts';
import type { TaskId } from './types.ts';
import { voiceActivityDetection } from './voice-activity-detection.ts';
import { zeroShotClassification } from './zero-shot-classification.ts';
import { zeroShotImageClassification } from './zero-shot-image-classification.ts';

export * from './types.ts';
export * from './spec.ts';

const specs: TaskSpec[] = [
  textClassification,
  tokenClassification,
  zeroShotClassification,
  fillMask,
  questionAnswering,
  featureExtraction,
  sentenceSimilarity,
  textGeneration,
  text2textGeneration,
  summarization,
  translation,
  imageClassification,
  objectDetection,
  imageFeatureExtraction,
  depthEstimation,
  zeroShotImageClassification,
  imageSegmentation,
  imageToText,
  voiceActivityDetection,
  automaticSpeechRecognition,
  audioClassification,
  textToSpeech,
];

const byId = new Map<TaskId, TaskSpec>(specs.map((s) => [s.id, s]));

export function taskSpec(id: TaskId): TaskSpec {
  const spec = byId.get(id);
  if (!spec) throw new Error(`no spec for task ${id}`);
  return spec;
}

export function allTaskSpecs(): readonly TaskSpec[] {
  return specs;
}

/** Tasks a model of this pipeline tag answers: an embedding model serves both embedding tasks. */
export function tasksServedBy(pipelineTag: TaskId): TaskId[] {
  if (pipelineTag === 'feature-extraction') return ['feature-extraction', 'sentence-similarity'];
  if (pipelineTag === 'sentence-similarity') return ['sentence-similarity', 'feature-extraction'];
  // An encoder-decoder answers all three seq2seq tasks; only the answer's key differs.
  if (isSeq2SeqTask(pipelineTag)) return [pipelineTag, ...SEQ2SEQ_TASKS.filter((t) => t !== pipelineTag)];
  return [pipelineTag];
}
