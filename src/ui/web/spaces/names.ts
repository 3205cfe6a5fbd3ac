/** What a Space page calls a task and a model state. */
import type { SpaceTask } from '../../server/catalog.ts';

export const TASK_NAMES: Record<SpaceTask, string> = {
  'text-classification': 'Text classification',
  'token-classification': 'Token classification',
  'zero-shot-classification': 'Zero-shot classification',
  'fill-mask': 'Fill mask',
  'question-answering': 'Question answering',
  'feature-extraction': 'Feature extraction',
  'sentence-similarity': 'Sentence similarity',
  'text-generation': 'Text generation',
  'text2text-generation': 'Text-to-text generation',
  summarization: 'Summarization',
  translation: 'Translation',
  'image-classification': 'Image classification',
  'voice-activity-detection': 'Voice activity detection',
  'audio-classification': 'Audio classification',
  'object-detection': 'Object detection',
  'image-segmentation': 'Image segmentation',
  'depth-estimation': 'Depth estimation',
  'zero-shot-image-classification': 'Zero-shot image classification',
  'image-to-text': 'Image to text',
  'image-feature-extraction': 'Image feature extraction',
  'text-to-speech': 'Text to speech',
  conversational: 'Chat',
};

export const STATE_NAMES: Record<string, string> = { ready: 'Loaded', loading: 'Loading', unloaded: 'Cold', hosted: 'Hosted' };
