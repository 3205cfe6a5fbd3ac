import { readFile } from 'node:fs/promises';
import { getFastTextModule } from 'fasttext.wasm.js';
import { InputError, TaskNotSupportedError } from '../../core/errors.ts';
import type { ModelInfo } from '../../core/model.ts';
import type { TaskId } from '../../core/tasks/index.ts';
import type { LoadedModel, Runtime } from '../runtime.ts';
import { resolveModelWeights } from './package-weights.ts';

/**
 * fastText supervised models (e.g. lid.176 language identification) for text-classification.
 * Uses the WASM build's low-level FastText object rather than getLIDModel(), whose wrapper only gives
 * the top language and renames labels; here every label and fastText's own probabilities come through.
 */
export interface TextClassificationLabel {
  label: string;
  score: number;
}

const DEFAULT_TOP_K = 5;
const LABEL_PREFIX = '__label__';
// Name of the model inside this module instance's in-memory file system (each load gets its own instance).
const WASM_MODEL_FILE = '/model.bin';

export const fasttextRuntime: Runtime = {
  name: 'fasttext',
  async load(model: ModelInfo): Promise<LoadedModel> {
    const path = resolveModelWeights(model, (f) => /\.(ftz|bin)$/i.test(f), 'fastText model (*.ftz or *.bin)');
    const bytes = await readFile(path);
    // A fresh WASM instance per model: models do not share memory and dispose() can drop it whole.
    const wasm = await getFastTextModule();
    const ft = new wasm.FastText();
    wasm.FS.writeFile(WASM_MODEL_FILE, bytes);
    try {
      ft.loadModel(WASM_MODEL_FILE);
    } catch {
      // Embind surfaces C++ exceptions as bare pointers: say which file failed instead.
      throw new Error(`fastText could not load ${path}: not a fastText .bin/.ftz model`);
    } finally {
      wasm.FS.unlink(WASM_MODEL_FILE); // the model now lives in WASM memory; drop the file copy
    }
    const labelsAndCounts = ft.getLabels();
    const labelCount = labelsAndCounts[0].size();
    labelsAndCounts[0].delete();
    labelsAndCounts[1].delete();
    if (labelCount === 0) throw new Error(`${path} is a fastText embedding model without labels; it cannot classify`);

    const tasks: readonly TaskId[] = ['text-classification'];
    return {
      tasks,
      async run(task, inputs, params) {
        if (task !== 'text-classification') throw new TaskNotSupportedError(model.id, task, 'text-classification');
        const topK = parseTopK(params.top_k, labelCount);
        const texts = inputs.map(toLine);
        return texts.map((text) => {
          const predictions = ft.predict(text, topK, 0);
          try {
            const out: TextClassificationLabel[] = [];
            for (let i = 0; i < predictions.size(); i++) {
              const [probability, label] = predictions.get(i);
              out.push({
                label: label.startsWith(LABEL_PREFIX) ? label.slice(LABEL_PREFIX.length) : label,
                // Softmax rounding can give 1.0000x; a probability above 1 would confuse clients.
                score: Math.min(1, probability),
              });
            }
            return out.sort((a, b) => b.score - a.score);
          } finally {
            predictions.delete(); // embind vectors live in WASM memory until deleted
          }
        });
      },
      async dispose() {
        // Embind objects are freed explicitly; the typings omit delete().
        (ft as unknown as { delete(): void }).delete();
      },
    };
  },
};

/** fastText predicts one line at a time and stops at the first newline, so newlines become spaces. */
function toLine(input: unknown): string {
  if (typeof input !== 'string') throw new InputError('inputs must be a string (or an array of strings) of text to classify.');
  const line = input.replace(/[\r\n\u2028\u2029]+/g, ' ').trim();
  if (line === '') throw new InputError('inputs must contain some text: the text to classify is empty.');
  return line;
}

function parseTopK(value: unknown, labelCount: number): number {
  if (value === undefined || value === null) return Math.min(DEFAULT_TOP_K, labelCount);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > labelCount) {
    throw new InputError(`parameters.top_k must be an integer from 1 to ${labelCount} (the number of labels).`);
  }
  return value;
}
