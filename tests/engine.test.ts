import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelLoadingError } from '../src/core/errors.ts';
import { Engine } from '../src/engine/engine.ts';
import { ModelRepository } from '../src/engine/repository.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from './helpers/paths.ts';
import { png } from './tasks/vision-helpers.ts';

const repo = new ModelRepository([TEST_MODELS_DIR, path.join(REPO_ROOT, 'builtin-models')]);
const model = (id: string) => {
  const m = repo.get(id);
  if (!m) throw new Error(`missing test model ${id}`);
  return m;
};

const TEXTS = Array.from({ length: 24 }, (_, i) => `sentence number ${i} ${'with more words '.repeat(i % 5)}about the weather`);

describe('engine', () => {
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it('merges concurrent requests into batches whose answers equal unbatched ones', async () => {
    engine = new Engine({ maxBatchSize: 16, batchWaitMs: 5 });
    const m = model('tiny/bert-sentiment');
    await engine.preload(m);
    const params = { top_k: null };
    const sequential: unknown[] = [];
    for (const t of TEXTS) sequential.push((await engine.infer(m, 'text-classification', [t], params))[0]);
    const before = { ...engine.counters };
    const concurrent = await Promise.all(TEXTS.map(async (t) => (await engine!.infer(m, 'text-classification', [t], params))[0]));
    const batches = engine.counters.batches - before.batches;
    expect(engine.counters.items - before.items).toBe(TEXTS.length);
    expect(batches).toBeLessThanOrEqual(Math.ceil(TEXTS.length / 16) + 1);
    concurrent.forEach((c, i) => {
      const s = sequential[i] as { label: string; score: number }[];
      (c as { label: string; score: number }[]).forEach((x, j) => {
        expect(x.label).toBe(s[j]!.label);
        expect(Math.abs(x.score - s[j]!.score)).toBeLessThan(1e-5);
      });
    });
  });

  it('does not merge requests whose parameters differ, and runs one item per batch when batching is off', async () => {
    engine = new Engine({ maxBatchSize: 1 });
    const m = model('tiny/bert-sentiment');
    await engine.preload(m);
    await Promise.all(TEXTS.slice(0, 6).map((t) => engine!.infer(m, 'text-classification', [t], {})));
    expect(engine.counters.batches).toBe(6);

    const mixed = new Engine({ maxBatchSize: 32, batchWaitMs: 20 });
    try {
      await mixed.preload(m);
      const answers = await Promise.all([
        mixed.infer(m, 'text-classification', [TEXTS[0]], { top_k: 1 }),
        mixed.infer(m, 'text-classification', [TEXTS[1]], { top_k: 2 }),
      ]);
      expect((answers[0][0] as unknown[]).length).toBe(1);
      expect((answers[1][0] as unknown[]).length).toBe(2);
      expect(mixed.counters.batches).toBe(2);
    } finally {
      await mixed.close();
    }
  });

  it('unloads the least recently used model to stay under the memory budget', async () => {
    const a = model('tiny/bert-sentiment');
    const b = model('tiny/bert-ner');
    const c = model('tiny/bert-mlm');
    // Room for two of these models (each is loaded at 1.5x its file size), not three.
    const budget = Math.floor((a.sizeBytes + b.sizeBytes) * 1.5 + c.sizeBytes * 0.5);
    engine = new Engine({ memoryBudgetBytes: budget });
    await engine.preload(a);
    await engine.preload(b);
    await engine.infer(a, 'text-classification', ['touch a so that b is the oldest'], {});
    await engine.preload(c);
    expect(engine.state(a.id)).toBe('ready');
    expect(engine.state(b.id)).toBe('unloaded');
    expect(engine.state(c.id)).toBe('ready');
    expect(engine.counters.unloads).toBe(1);
    // An unloaded model comes back on demand.
    await engine.ensureReady(b, 30_000);
    expect(engine.state(b.id)).toBe('ready');
  });

  it('answers ModelLoadingError with an estimate when the caller will not wait, and waits when asked', async () => {
    engine = new Engine();
    const m = model('tiny/gpt2');
    const error = await engine.ensureReady(m, 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadingError);
    expect((error as ModelLoadingError).status).toBe(503);
    expect((error as ModelLoadingError).extra.estimated_time).toBeGreaterThan(0);
    expect(engine.state(m.id)).toBe('loading');
    await engine.ensureReady(m, 30_000);
    expect(engine.state(m.id)).toBe('ready');
  });

  it('fails only the request whose input the runtime refuses, not the others in its batch', async () => {
    engine = new Engine({ maxBatchSize: 8, batchWaitMs: 20 });
    const lid = model('facebook/fasttext-lid-176');
    await engine.preload(lid);
    // The fastText runtime refuses a non-string input for the whole batch it sits in.
    const [good, bad, other] = await Promise.allSettled([
      engine.infer(lid, 'text-classification', ['Das ist ein ganz normaler deutscher Satz.'], { top_k: 1 }),
      engine.infer(lid, 'text-classification', [42], { top_k: 1 }),
      engine.infer(lid, 'text-classification', ['Ceci est une phrase tout à fait normale.'], { top_k: 1 }),
    ]);
    expect(engine.counters.batches).toBeGreaterThanOrEqual(1);
    expect(good.status).toBe('fulfilled');
    expect(other.status).toBe('fulfilled');
    expect(((good as PromiseFulfilledResult<unknown[]>).value[0] as { label: string }[])[0]!.label).toBe('de');
    expect(((other as PromiseFulfilledResult<unknown[]>).value[0] as { label: string }[])[0]!.label).toBe('fr');
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ status: 400 });
    expect((bad as PromiseRejectedResult).reason).not.toBeInstanceOf(TypeError);
  });

  it('gives the same scores when a batch of very different lengths runs as length-sorted passes', async () => {
    engine = new Engine({ maxBatchSize: 32, batchWaitMs: 20 });
    const m = model('tiny/bert-sentiment');
    await engine.preload(m);
    const texts = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? `${'a much longer review of the film '.repeat(30)}${i}` : `short ${i}`));
    const alone: unknown[] = [];
    for (const t of texts) alone.push((await engine.infer(m, 'text-classification', [t], { top_k: null }))[0]);
    const together = await engine.infer(m, 'text-classification', texts, { top_k: null });
    together.forEach((answer, i) => {
      (answer as { label: string; score: number }[]).forEach((x, j) => {
        const ref = (alone[i] as { label: string; score: number }[])[j]!;
        expect(x.label).toBe(ref.label);
        expect(Math.abs(x.score - ref.score)).toBeLessThan(1e-5);
      });
    });
  });

  it('runs a model as several instances, each worker taking batches, with the answers of one instance', async () => {
    const m = model('tiny/bert-sentiment');
    const one = new Engine({ maxBatchSize: 4, batchWaitMs: 5 });
    let single: unknown[];
    try {
      await one.preload(m);
      single = await Promise.all(TEXTS.map(async (t) => (await one.infer(m, 'text-classification', [t], { top_k: null }))[0]));
    } finally {
      await one.close();
    }
    engine = new Engine({ maxBatchSize: 4, batchWaitMs: 5, modelInstances: 2, cores: 2 });
    await engine.preload(m);
    // Both copies load; the second joins the first once ready.
    for (let i = 0; i < 100 && !engine.instanceStats(m.id).every((x) => x.ready); i++) await new Promise((r) => setTimeout(r, 50));
    const stats = () => engine!.instanceStats(m.id);
    expect(stats().map((x) => x.worker).sort()).toEqual([0, 1]);
    expect(stats().every((x) => x.ready)).toBe(true);
    expect(engine.loadedModels().find((x) => x.id === m.id)?.instances).toBe(2);
    const answers = await Promise.all(TEXTS.map(async (t) => (await engine!.infer(m, 'text-classification', [t], { top_k: null }))[0]));
    // 24 inputs in batches of at most 4: the second batch goes to the idle copy while the first runs.
    expect(stats().every((x) => x.batches > 0)).toBe(true);
    expect(stats().reduce((sum, x) => sum + x.batches, 0)).toBe(engine.counters.batches);
    answers.forEach((answer, i) => {
      (answer as { label: string; score: number }[]).forEach((x, j) => {
        const ref = (single[i] as { label: string; score: number }[])[j]!;
        expect(x.label).toBe(ref.label);
        expect(Math.abs(x.score - ref.score)).toBeLessThan(1e-6);
      });
    });
    // Unloading lets go of every copy; the next load gets two again.
    expect(engine.unload(m.id)).toBe(true);
    expect(engine.instanceStats(m.id)).toEqual([]);
    await engine.preload(m);
    expect(engine.instanceStats(m.id)).toHaveLength(2);
  });

  it('gives object detection the same boxes from two instances as from one, and text generation a single copy', async () => {
    const m = model('tiny/yolos');
    const images = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => png(64 + seed * 8, 48 + seed * 4, seed)));
    const run = async (e: Engine) => {
      await e.preload(m);
      return Promise.all(images.map(async (data) => (await e.infer(m, 'object-detection', [{ data }], { threshold: 0 }))[0]));
    };
    const one = new Engine({ maxBatchSize: 2, batchWaitMs: 5 });
    let single: unknown[];
    try {
      single = await run(one);
    } finally {
      await one.close();
    }
    engine = new Engine({ maxBatchSize: 2, batchWaitMs: 5, modelInstances: 2, cores: 2 });
    const both = await run(engine);
    expect(JSON.stringify(single).length).toBeGreaterThan(100);
    both.forEach((answer, i) => {
      const ref = single[i] as { score: number; label: string; box: Record<string, number> }[];
      const got = answer as typeof ref;
      expect(got.map((d) => [d.label, d.box])).toEqual(ref.map((d) => [d.label, d.box]));
      got.forEach((d, j) => expect(Math.abs(d.score - ref[j]!.score)).toBeLessThan(1e-5));
    });
    const gpt2 = model('tiny/gpt2');
    await engine.preload(gpt2);
    expect(engine.instanceStats(gpt2.id)).toHaveLength(1);
  });

  it('lets go of every copy when the thread of one of them dies, and loads two again on the next call', async () => {
    const m = model('tiny/bert-sentiment');
    engine = new Engine({ maxBatchSize: 4, batchWaitMs: 5, modelInstances: 2, cores: 2 });
    await engine.preload(m);
    for (let i = 0; i < 100 && !engine.instanceStats(m.id).every((x) => x.ready); i++) await new Promise((r) => setTimeout(r, 50));
    // The engine's own bookkeeping of its worker threads (not part of its API).
    const workers = (engine as unknown as { workers: { hostedKeys: Set<string>; hostedBytes: number; worker: { terminate(): Promise<number> } }[] }).workers;
    const bytesBefore = workers[1]!.hostedBytes;
    expect(workers[1]!.hostedKeys.has(m.id)).toBe(true);
    await workers[0]!.worker.terminate(); // as if the thread had crashed
    for (let i = 0; i < 100 && engine.state(m.id) !== 'unloaded'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(engine.state(m.id)).toBe('unloaded');
    expect(workers[1]!.hostedKeys.has(m.id)).toBe(false);
    expect(workers[1]!.hostedBytes).toBe(0);
    await engine.preload(m);
    const [answer] = await engine.infer(m, 'text-classification', [TEXTS[0]], { top_k: 1 });
    expect((answer as { label: string }[])[0]!.label).toBeTruthy();
    expect(engine.instanceStats(m.id)).toHaveLength(2);
    expect(workers[1]!.hostedBytes).toBe(bytesBefore);
  });
});
