import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, TaskNotSupportedError } from '../../src/core/errors.ts';
import type { LoadedModel } from '../../src/engine/runtime.ts';
import { fasttextRuntime, type TextClassificationLabel } from '../../src/engine/runtimes/fasttext.ts';
import { resolvePackageFile } from '../../src/engine/runtimes/package-weights.ts';
import { builtinModel, rejection } from './helpers.ts';

const LID_PACKAGE = 'fasttext.wasm.js';
const LID_FILE = 'dist/models/language-identification/assets/lid.176.ftz';

const SENTENCES: [string, string][] = [
  ['en', 'The weather is lovely today, so we are going for a walk in the park.'],
  ['fr', 'Le chat est assis sur le tapis et regarde les oiseaux par la fenêtre.'],
  ['de', 'Ich habe heute leider keine Zeit, weil ich bis spät abends arbeiten muss.'],
  ['es', 'Me gustaría reservar una mesa para dos personas esta noche, por favor.'],
  ['it', 'Vorrei prenotare un tavolo per due persone stasera, se possibile.'],
  ['pt', 'Eu gostaria de reservar uma mesa para duas pessoas esta noite, por favor.'],
  ['nl', 'Ik wil graag een tafel reserveren voor twee personen vanavond.'],
];

let model: LoadedModel;

async function classify(inputs: unknown[], params: Record<string, unknown> = {}) {
  return (await model.run('text-classification', inputs, params)) as TextClassificationLabel[][];
}

beforeAll(async () => {
  model = await fasttextRuntime.load(builtinModel('facebook/fasttext-lid-176', 'text-classification'));
});

afterAll(async () => {
  await model?.dispose();
});

describe('fasttext runtime with lid.176', () => {
  it('serves text-classification', () => {
    expect(fasttextRuntime.name).toBe('fasttext');
    expect(model.tasks).toEqual(['text-classification']);
  });

  it.each(SENTENCES)('identifies %s', async (lang, text) => {
    const [labels] = await classify([text]);
    expect(labels?.[0]?.label).toBe(lang);
    expect(labels?.[0]?.score).toBeGreaterThan(0.8);
  });

  it('answers a batch in order, one list per input', async () => {
    const out = await classify(SENTENCES.map(([, text]) => text));
    expect(out.map((labels) => labels[0]?.label)).toEqual(SENTENCES.map(([lang]) => lang));
  });

  it('returns labels without the __label__ prefix, sorted, with probabilities in (0, 1]', async () => {
    const [labels = []] = await classify([SENTENCES[1]![1]]);
    expect(labels).toHaveLength(5); // default top_k
    for (const { label, score } of labels) {
      expect(label).toMatch(/^[a-z_-]+$/);
      expect(label).not.toContain('__label__');
      expect(score).toBeGreaterThan(0);
      expect(score).toBeLessThanOrEqual(1);
    }
    const scores = labels.map((l) => l.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('honours top_k, and the full distribution sums to about 1 (fastText probabilities)', async () => {
    const text = SENTENCES[0]![1];
    const [one = []] = await classify([text], { top_k: 1 });
    expect(one).toHaveLength(1);
    const [three = []] = await classify([text], { top_k: 3 });
    expect(three).toHaveLength(3);
    expect(three[0]).toEqual(one[0]);
    // fastText's hierarchical softmax prunes labels whose probability underflows to 0, so asking for all
    // 176 gives fewer for a confident prediction; what it returns still carries the whole probability mass.
    const [all = []] = await classify([text], { top_k: 176 });
    expect(all.length).toBeGreaterThan(20);
    expect(all.length).toBeLessThanOrEqual(176);
    expect(all.reduce((sum, l) => sum + l.score, 0)).toBeCloseTo(1, 2);
  });

  it('reads past newlines (fastText alone would stop at the first line)', async () => {
    const text = 'Hello.\nJe voudrais réserver une table pour deux personnes ce soir, près de la fenêtre, merci.';
    const [labels] = await classify([text]);
    expect(labels?.[0]?.label).toBe('fr');
  });

  it.each([0, -1, 1.5, 177, '3', true])('rejects top_k=%j with an InputError', async (topK) => {
    const error = await rejection(classify(['Bonjour tout le monde'], { top_k: topK }));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(/top_k must be an integer from 1 to 176/);
  });

  it.each([[''], ['  \n '], [42], [null], [{ text: 'hi' }]])('rejects input %j with an InputError', async (input) => {
    const error = await rejection(classify([input]));
    expect(error).toBeInstanceOf(InputError);
  });

  it('refuses other tasks', async () => {
    const error = await rejection(model.run('fill-mask', ['x'], {}));
    expect(error).toBeInstanceOf(TaskNotSupportedError);
  });
});

describe('fasttext runtime: finding the weights', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelhost-fasttext-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts an absolute path in runtimeOptions.weights', async () => {
    const info = builtinModel('facebook/fasttext-lid-176', 'text-classification', {
      runtimeOptions: { weights: resolvePackageFile(LID_PACKAGE, LID_FILE) },
    });
    const loaded = await fasttextRuntime.load(info);
    const [[top]] = (await loaded.run('text-classification', ['Guten Morgen, wie geht es dir heute?'], {})) as [[TextClassificationLabel]];
    expect(top.label).toBe('de');
    await loaded.dispose();
  });

  it('falls back to the first *.ftz in the model folder', async () => {
    copyFileSync(resolvePackageFile(LID_PACKAGE, LID_FILE), join(dir, 'model.ftz'));
    const loaded = await fasttextRuntime.load(
      builtinModel('facebook/fasttext-lid-176', 'text-classification', { dir, files: [], runtimeOptions: {} }),
    );
    const [[top]] = (await loaded.run('text-classification', ['Buenos días a todos'], {})) as [[TextClassificationLabel]];
    expect(top.label).toBe('es');
    await loaded.dispose();
  });

  it('fails to load when there are no weights', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'modelhost-empty-'));
    try {
      const info = builtinModel('facebook/fasttext-lid-176', 'text-classification', { dir: empty, files: [], runtimeOptions: {} });
      expect((await rejection(fasttextRuntime.load(info))).message).toMatch(/no fastText model/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
