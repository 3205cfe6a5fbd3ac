/**
 * Encoder-decoder generation (text2text-generation, summarization, translation) stops when its callers leave: the
 * handler stops transformers.js `generate` at the next decoder step, the engine drops a caller's queued input and
 * cancels a running batch once every caller in it has left, and `/metrics` counts both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { text2textGeneration } from '../../src/engine/tasks/text2text-generation.ts';
import type { Pipe } from '../../src/engine/tasks/types.ts';
import { reference } from '../helpers/reference.ts';
import { metricValue, startServer, type TestServer } from '../helpers/server.ts';

const MODEL = 'tiny/t5';
const TEXT = 'My name is Sarah and I live in London. I work as a teacher and I like to read books.';

/** The pipeline's model with its decoder passes counted; `onStep(n)` runs before pass n. */
async function countedPipe(onStep: (n: number) => void = () => undefined) {
  const pipe = (await reference('text2text-generation', MODEL)) as unknown as Pipe & { model: { forward: (...a: unknown[]) => Promise<unknown> } };
  const forward = pipe.model.forward.bind(pipe.model);
  const counted = { steps: 0 };
  const model = Object.create(pipe.model, {
    forward: {
      value: (...args: unknown[]) => {
        onStep(++counted.steps);
        return forward(...args);
      },
    },
  });
  return { pipe: Object.assign((...a: unknown[]) => pipe(...a), { tokenizer: pipe.tokenizer, model }) as Pipe, counted };
}

describe('seq2seq cancellation in the handler', () => {
  it('stops generate at the next decoder step once the signal aborts, failing as cancelled (499)', async () => {
    const params = { max_new_tokens: 60, do_sample: false };
    const whole = await countedPipe();
    const [answer] = (await text2textGeneration({ pipe: whole.pipe, dir: '' }, [TEXT], params)) as { generatedTokens: number }[];
    // The reference run: every one of its tokens took a decoder pass (this text meets no eos before 60 on tiny/t5).
    expect(answer!.generatedTokens).toBe(60);
    expect(whole.counted.steps).toBeGreaterThanOrEqual(60);

    const ctrl = new AbortController();
    const cut = await countedPipe((n) => n === 5 && ctrl.abort());
    await expect(text2textGeneration({ pipe: cut.pipe, dir: '', signal: ctrl.signal }, [TEXT], params)).rejects.toMatchObject({ status: 499 });
    expect(cut.counted.steps).toBe(5);
  });

  it('does not start when the signal has already aborted', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const idle = await countedPipe();
    await expect(text2textGeneration({ pipe: idle.pipe, dir: '', signal: ctrl.signal }, [TEXT], { max_new_tokens: 10 })).rejects.toMatchObject({ status: 499 });
    expect(idle.counted.steps).toBe(0);
  });
});

describe('seq2seq cancellation over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const metric = async (name: string): Promise<number> => (await metricValue(server, name)) ?? 0;

  /** Polls until `done` holds; fails (rather than hanging) after 20 s. */
  async function until(what: string, done: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  const call = (maxNewTokens: number, signal?: AbortSignal) =>
    fetch(`${server.url}/models/${MODEL}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-use-cache': 'false' },
      body: JSON.stringify({ inputs: TEXT, parameters: { max_new_tokens: maxNewTokens } }),
      signal,
    });

  it('a caller who leaves is dropped from the queue, and a run whose caller left stops mid-run', async () => {
    // Warm the model, so that the first call below runs at once.
    expect((await call(2)).status).toBe(200);
    const cancelledBefore = await metric('modelhost_engine_cancelled_total');
    const itemsBefore = await metric('modelhost_engine_items_total');

    const running = new AbortController();
    const first = call(1024, running.signal).then((r) => r.status, () => 'left');
    await until('the first call runs', async () => (await metric('modelhost_engine_items_total')) > itemsBefore);
    const queued = new AbortController();
    const second = call(5, queued.signal).then((r) => r.status, () => 'left');
    await until('the second call waits behind it', async () => (await metric('modelhost_queued_inputs')) === 1);

    queued.abort();
    running.abort();
    expect(await first).toBe('left');
    expect(await second).toBe('left');
    // Both count as cancelled: the queued one never ran (items_total counts only the first), the running one stopped.
    await until('both count as cancelled', async () => (await metric('modelhost_engine_cancelled_total')) >= cancelledBefore + 2);
    expect(await metric('modelhost_engine_cancelled_total')).toBe(cancelledBefore + 2);
    expect(await metric('modelhost_engine_items_total')).toBe(itemsBefore + 1);
    expect(await metric('modelhost_queued_inputs')).toBe(0);
    // The model is free again and answers.
    expect((await call(3)).status).toBe(200);
  });
});
