import { existsSync } from 'node:fs';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import type { ModelInfo } from '../../core/model.ts';
import { taskSpec, tasksServedBy, type TaskId } from '../../core/tasks/index.ts';
import type { LoadOptions, LoadedModel, Runtime } from '../runtime.ts';
import { audioClassification } from '../tasks/audio-classification.ts';
import { automaticSpeechRecognition } from '../tasks/automatic-speech-recognition.ts';
import { featureExtraction, sentenceSimilarity } from '../tasks/feature-extraction.ts';
import { fillMask } from '../tasks/fill-mask.ts';
import { imageClassification } from '../tasks/image-classification.ts';
import { depthEstimation } from '../tasks/depth-estimation.ts';
import { imageFeatureExtraction } from '../tasks/image-feature-extraction.ts';
import { imageSegmentation } from '../tasks/image-segmentation.ts';
import { imageToText } from '../tasks/image-to-text.ts';
import { objectDetection } from '../tasks/object-detection.ts';
import { questionAnswering } from '../tasks/question-answering.ts';
import { textClassification } from '../tasks/text-classification.ts';
import { textGeneration } from '../tasks/text-generation.ts';
import { textToSpeech } from '../tasks/text-to-speech.ts';
import { summarization, text2textGeneration, translation } from '../tasks/text2text-generation.ts';
import { tokenClassification } from '../tasks/token-classification.ts';
import type { Pipe, TaskHandler } from '../tasks/types.ts';
import { zeroShotClassification } from '../tasks/zero-shot-classification.ts';
import { zeroShotImageClassification } from '../tasks/zero-shot-image-classification.ts';

// Local files only: this runtime never reaches a hub.
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useFSCache = false;

/** The transformers.js pipeline that loads the right model class and pre-processor: the task's own, but for
 * sentence-similarity, which is an embedding model. */
function pipelineTask(task: TaskId): string {
  return task === 'sentence-similarity' ? 'feature-extraction' : task;
}

const handlers: Partial<Record<TaskId, TaskHandler>> = {
  'text-classification': textClassification,
  'token-classification': tokenClassification,
  'zero-shot-classification': zeroShotClassification,
  'fill-mask': fillMask,
  'question-answering': questionAnswering,
  'feature-extraction': featureExtraction,
  'sentence-similarity': sentenceSimilarity,
  'text-generation': textGeneration,
  'text2text-generation': text2textGeneration,
  summarization,
  translation,
  'image-classification': imageClassification,
  'automatic-speech-recognition': automaticSpeechRecognition,
  'audio-classification': audioClassification,
  'object-detection': objectDetection,
  'image-feature-extraction': imageFeatureExtraction,
  'depth-estimation': depthEstimation,
  'zero-shot-image-classification': zeroShotImageClassification,
  'image-segmentation': imageSegmentation,
  'image-to-text': imageToText,
  'text-to-speech': textToSpeech,
};

/** fp32 weights when present (model.onnx, or an encoder-decoder's encoder_model.onnx), else the quantized files. */
function dtypeFor(dir: string): 'fp32' | 'q8' {
  const fp32 = ['model.onnx', 'encoder_model.onnx'].some((f) => existsSync(path.join(dir, 'onnx', f)));
  return fp32 ? 'fp32' : 'q8';
}

/**
 * onnxruntime's intra-op threads: by default one per core. A dedicated endpoint's replica is given its share
 * (compute.threads) through MODELHOST_ORT_THREADS, so one endpoint cannot take another's cores; a model loaded as
 * several instances gets its share of the cores in `threads`.
 *
 * Image tasks run one forward pass per batch between long stretches of decoding and resizing in JavaScript and
 * sharp; onnxruntime's threads spinning for work in those stretches take the cores that work needs (measured with
 * bench:engine's detection part: 8% more images/s without spinning). Text and generation keep spinning: their
 * passes follow each other closely, and without it they lost 11–14% (text) and 30–50% (generation).
 */
function sessionOptions(task: TaskId, threads: number | undefined): Record<string, unknown> | undefined {
  const fromEnv = Number(process.env.MODELHOST_ORT_THREADS);
  const intra = threads ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined);
  const options: Record<string, unknown> = intra ? { intraOpNumThreads: intra, interOpNumThreads: 1 } : {};
  if (taskSpec(task).modality === 'image' && task !== 'image-to-text') options.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return Object.keys(options).length > 0 ? options : undefined;
}

// env.localModelPath is global and read during a load, so loads take turns.
let loading: Promise<unknown> = Promise.resolve();

export const transformersRuntime: Runtime = {
  name: 'transformers',
  async load(model: ModelInfo, options: LoadOptions = {}): Promise<LoadedModel> {
    if (!handlers[model.pipelineTag]) throw new Error(`transformers runtime cannot run task ${model.pipelineTag}`);
    const task = pipelineTask(model.pipelineTag);
    const root = path.dirname(path.dirname(model.dir));
    const relative = path.relative(root, model.dir).split(path.sep).join('/');
    const load = loading.then(async () => {
      env.localModelPath = root + path.sep;
      return (await pipeline(task as 'text-classification', relative, { dtype: dtypeFor(model.dir), session_options: sessionOptions(model.pipelineTag, options.threads) })) as unknown as Pipe;
    });
    loading = load.catch(() => undefined);
    const pipe = await load;
    const tasks = tasksServedBy(model.pipelineTag);
    return {
      tasks,
      run(runTask, inputs, params, emit, signal) {
        const handler = handlers[runTask];
        if (!handler || !tasks.includes(runTask)) throw new Error(`model ${model.id} does not serve ${runTask}`);
        return handler({ pipe, dir: model.dir, ...(options.generation ? { generation: options.generation } : {}), ...(signal ? { signal } : {}) }, inputs, params, emit);
      },
      async dispose() {
        await (pipe as unknown as { dispose?: () => Promise<void> }).dispose?.();
      },
    };
  },
};
