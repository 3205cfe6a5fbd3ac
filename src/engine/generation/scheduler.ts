/**
 * Continuous batching for one decoder model (lives in the engine worker that hosts it).
 *
 * Every step: queued generations are admitted while the batch has room (sequences, tokens in flight, KV bytes);
 * one bounded chunk of prefill runs (several short prompts together, or the next chunk of one long prompt). While
 * other sequences are decoding, the chunk is sized to take about two decode steps (`prefillShareOfStep`; both are
 * measured as they run), so a join stretches the running streams' gap between two tokens to three steps at most; with
 * nothing decoding, or many more prompts waiting than sequences decoding, it may take up to `prefillChunkTokens`. Sequences whose prompt is done
 * join the decode batch, finished and cancelled ones leave it; then one decoder step runs for every decoding
 * sequence at once. Each sequence keeps its own settings, stop conditions and seeded sampler, so its tokens do not
 * depend on its neighbours. A cancelled sequence stops at the next step boundary: the step in flight finishes,
 * its token is dropped and its slot is free for the next step.
 */
import type { Tokenizer } from '../tasks/types.ts';
import type { Decoder } from './decoder.ts';
import { bytesPerPosition, emptyCache, repack, type PackedCache } from './kv.ts';
import type { TokenChooser } from './sampler.ts';
import { Sequence, cancelledError, type CancelSignal, type GenerationResult, type OnToken } from './sequence.ts';
import type { GenerationSettings } from './settings.ts';
import { TokenText } from './text.ts';

export interface SchedulerOptions {
  /** Sequences decoding (or prefilling) at once; 1 turns continuous batching off (one generation at a time). */
  maxBatchSize: number;
  /** Prompt + max_new_tokens summed over the admitted sequences. */
  maxBatchTokens: number;
  /** KV cache the admitted sequences may reach at their full length, in bytes. */
  maxKvBytes: number;
  /** Prompt tokens (padding included) one step may prefill; less while others decode (about one decode step's time). */
  prefillChunkTokens: number;
  /** The least a prefill chunk takes while others decode, however slow prefill is measured to be. */
  minPrefillChunkTokens: number;
  /** While others decode, a prefill chunk is sized to take about this share of one decode step's time... */
  prefillShareOfStep: number;
  /**
   * ...unless the prompts waiting for prefill number at least this many times the decoding sequences (TGI's
   * `waiting_served_ratio`): then the whole `prefillChunkTokens`, since filling the batch beats keeping its streams smooth.
   */
  waitingServedRatio: number;
  /**
   * Copy the whole cache into a fresh batch every step, as a design that keeps one cache per sequence and
   * concatenates them each step would (for the bench's comparison; off in service).
   */
  repackEveryStep?: boolean;
}

export const defaultSchedulerOptions: SchedulerOptions = {
  maxBatchSize: 64,
  maxBatchTokens: 256 * 1024,
  maxKvBytes: 1024 ** 3,
  prefillChunkTokens: 256,
  minPrefillChunkTokens: 16,
  // Two steps: a join stretches the running streams' gap between two tokens to three steps at most. Measured with
  // bench:generation (Llama shape, 16 streams, 64 new tokens, alternating runs): 1,700-1,770 tokens/s and inter-token
  // P50/P99 7.0-7.3/20-22 ms at 2, against 1,420-1,470 tokens/s and 9.8-9.9/18-21.5 ms at 0.5 (prefill chunks of 16
  // tokens pay onnxruntime's fixed cost per run ~3 times as often); fixed 128-token chunks gave P99 26-28 ms.
  prefillShareOfStep: 2,
  waitingServedRatio: 1.2,
};

export interface SchedulerStats {
  /** Sequences admitted (prefilling or decoding). */
  active: number;
  /** Sequences waiting for room in the batch. */
  queued: number;
  /** Rows of the last decode step (0 when none ran). */
  batch: number;
  steps: number;
  /** Tokens generated since the scheduler started. */
  tokens: number;
  promptTokens: number;
  /** Tokens generated per second over the last few seconds. */
  tokensPerSecond: number;
}

const RATE_WINDOW_MS = 5000;

/** Exponential moving mean (the last ~10 samples), seeded by the first. */
const mean = (previous: number | undefined, sample: number): number => (previous === undefined ? sample : previous + 0.1 * (sample - previous));

const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

export class GenerationScheduler {
  private readonly opts: SchedulerOptions;
  private queue: Sequence[] = [];
  private prefilling: Sequence[] = [];
  private rows: Sequence[] = [];
  private batchCache: PackedCache | undefined;
  private running = false;
  private counters = { steps: 0, tokens: 0, promptTokens: 0, batch: 0 };
  private recent: { at: number; tokens: number }[] = [];
  /** Running means of a decode step's time and of one prefill token's (padding included), for sizing chunks. */
  private decodeMs: number | undefined;
  private prefillMsPerToken: number | undefined;

  constructor(
    private readonly decoder: Decoder,
    private readonly tokenizer: Tokenizer,
    private readonly eos: ReadonlySet<number>,
    opts: Partial<SchedulerOptions> = {},
    private readonly onStep?: (stats: SchedulerStats) => void,
  ) {
    this.opts = { ...defaultSchedulerOptions, ...opts };
    // Without position ids the graph counts positions itself, which left padding would shift: one row at a time.
    if (!decoder.hasPositions) this.opts.maxBatchSize = 1;
  }

  /**
   * Generates from `promptIds`: resolves with the tokens (and their log-probabilities and text) when a stop
   * condition is met, calling `onToken` as each token's text becomes known (it may return true to stop there).
   * Rejects with a 499 error when `signal` aborts; the sequence leaves the batch at the next step. `chooser`
   * replaces the sampler made from `settings` (whose sampling fields are then unused).
   *
   * @example
   * const result = await scheduler.generate(ids, settings, (token) => stream.send(token.text), request.signal);
   */
  generate(
    promptIds: readonly number[],
    settings: GenerationSettings,
    onToken?: OnToken,
    signal?: CancelSignal,
    chooser?: TokenChooser,
  ): Promise<GenerationResult> {
    if (signal?.aborted) return Promise.reject(cancelledError());
    return new Promise((resolve, reject) => {
      const special = new Set(this.tokenizer.all_special_ids);
      const text = new TokenText(this.tokenizer, special, settings.stop);
      const seq = new Sequence(promptIds, settings, text, this.eos, { onToken, resolve, reject, onCancel: (s) => this.onCancel(s) }, signal, chooser);
      this.queue.push(seq);
      this.kick();
    });
  }

  stats(): SchedulerStats {
    const now = performance.now();
    this.recent = this.recent.filter((r) => now - r.at <= RATE_WINDOW_MS);
    const first = this.recent[0];
    const tokens = this.recent.reduce((n, r) => n + r.tokens, 0);
    const seconds = first ? Math.max((now - first.at) / 1000, 0.001) : 1;
    return {
      // Sequences that ended during the last step leave the rows at the next; they no longer count.
      active: [...this.prefilling, ...this.rows].filter((s) => s.phase !== 'done' && !s.cancelled).length,
      queued: this.queue.length,
      batch: this.counters.batch,
      steps: this.counters.steps,
      tokens: this.counters.tokens,
      promptTokens: this.counters.promptTokens,
      tokensPerSecond: first ? tokens / seconds : 0,
    };
  }

  private onCancel(seq: Sequence): void {
    if (seq.phase !== 'queued') return; // running: it leaves at the next step boundary
    this.queue = this.queue.filter((s) => s !== seq);
    seq.fail(cancelledError());
    this.onStep?.(this.stats());
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.queue.length + this.prefilling.length + this.rows.length > 0) {
      // Lets cancel and new-request messages in between steps, even when a run completes synchronously.
      await nextMacrotask();
      this.admit();
      const joiners = await this.prefillStep();
      this.reshape(joiners);
      const produced = await this.decodeStep();
      this.counters.steps++;
      if (produced > 0) this.recent.push({ at: performance.now(), tokens: produced });
      this.onStep?.(this.stats());
    }
    this.counters.batch = 0;
    this.onStep?.(this.stats());
  }

  /** Moves queued sequences into prefill while the batch bounds allow (always one when nothing runs). */
  private admit(): void {
    const bpp = bytesPerPosition(this.decoder.shape);
    // Rows that finished or were cancelled in the last step free their slot now, not after the next reshape.
    let active = [...this.prefilling, ...this.rows].filter((s) => !s.cancelled && s.phase !== 'done');
    let tokens = active.reduce((n, s) => n + s.maxTokens, 0);
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      const fits =
        active.length < this.opts.maxBatchSize && tokens + next.maxTokens <= this.opts.maxBatchTokens && (tokens + next.maxTokens) * bpp <= this.opts.maxKvBytes;
      if (active.length > 0 && !fits) break;
      this.queue.shift();
      next.phase = 'prefill';
      this.prefilling.push(next);
      active = [...active, next];
      tokens += next.maxTokens;
    }
  }

  /** Runs one bounded chunk of prefill; returns the sequences whose prompt is done and that go on decoding. */
  private async prefillStep(): Promise<Sequence[]> {
    for (const s of this.prefilling.filter((s) => s.cancelled)) s.fail(cancelledError());
    this.prefilling = this.prefilling.filter((s) => s.phase === 'prefill');
    const work = this.prefillWork();
    if (!work) return [];
    const { group, width } = work;
    const counts = group.map((s) => Math.min(width, s.promptIds.length - s.prefilled));
    const ids = new BigInt64Array(group.length * width);
    group.forEach((s, r) => {
      const pad = width - counts[r]!;
      for (let t = 0; t < counts[r]!; t++) ids[r * width + pad + t] = BigInt(s.promptIds[s.prefilled + t]!);
    });
    const first = group[0]!;
    const past = first.prefilled > 0 && first.cache ? first.cache.cache : emptyCache(this.decoder.shape, group.length);
    let out;
    const started = performance.now();
    try {
      out = await this.decoder.step({ ids, width, past, newPads: counts.map((n) => width - n), starts: group.map((s) => s.prefilled) });
      this.prefillMsPerToken = mean(this.prefillMsPerToken, (performance.now() - started) / ids.length);
    } catch (e) {
      for (const s of group) s.fail(e as Error);
      this.prefilling = this.prefilling.filter((s) => s.phase === 'prefill');
      return [];
    }
    this.counters.promptTokens += counts.reduce((a, b) => a + b, 0);
    const joiners: Sequence[] = [];
    group.forEach((s, r) => {
      s.prefilled += counts[r]!;
      s.cache = { cache: out.present, row: r };
      if (s.prefilled < s.promptIds.length || s.cancelled) return;
      this.counters.tokens++;
      if (!s.accept(out.logits.subarray(r * out.vocab, (r + 1) * out.vocab))) {
        s.phase = 'decode';
        joiners.push(s);
      }
    });
    this.prefilling = this.prefilling.filter((s) => s.phase === 'prefill');
    return joiners;
  }

  /** The next prefill run: several whole short prompts padded together, or one chunk of one long prompt. */
  private prefillWork(): { group: Sequence[]; width: number } | undefined {
    const [first, ...rest] = this.prefilling;
    if (!first) return undefined;
    const budget = this.prefillBudget();
    const remaining = first.promptIds.length - first.prefilled;
    if (first.prefilled > 0 || remaining >= budget || this.opts.maxBatchSize === 1) {
      // Equal chunks (49 tokens in 25 + 24, not 45 + 4): as many runs, and a shorter longest stall.
      return { group: [first], width: Math.ceil(remaining / Math.ceil(remaining / budget)) };
    }
    const group = [first];
    let width = remaining;
    for (const s of rest) {
      if (s.prefilled > 0) continue;
      const w = Math.max(width, s.promptIds.length);
      if (w * (group.length + 1) > budget) break;
      group.push(s);
      width = w;
    }
    return { group, width };
  }

  /**
   * Prompt tokens this step may prefill: with rows decoding, what takes `prefillShareOfStep` of a decode step (a
   * joiner then holds the running streams back by at most that); with none, or with many more prompts waiting than
   * rows decoding (`waitingServedRatio`), the whole `prefillChunkTokens`.
   */
  private prefillBudget(): number {
    const max = this.opts.prefillChunkTokens;
    const decoding = this.rows.filter((s) => s.phase === 'decode' && !s.cancelled).length;
    if (decoding === 0 || this.decodeMs === undefined || this.prefillMsPerToken === undefined) return max;
    if (this.prefilling.length >= this.opts.waitingServedRatio * decoding) return max;
    return Math.max(Math.min(this.opts.minPrefillChunkTokens, max), Math.min(max, Math.floor((this.opts.prefillShareOfStep * this.decodeMs) / this.prefillMsPerToken)));
  }

  /** Drops finished and cancelled rows, adds the joiners, and repacks the batch's cache when its rows changed. */
  private reshape(joiners: Sequence[]): void {
    for (const s of this.rows) if (s.cancelled) s.fail(cancelledError());
    const kept = this.rows.filter((s) => s.phase === 'decode');
    const next = [...kept, ...joiners];
    const changed = joiners.length > 0 || kept.length !== this.rows.length;
    this.rows = next;
    if (next.length === 0) {
      this.batchCache = undefined;
      return;
    }
    if (!changed && !this.opts.repackEveryStep) return;
    // A forced repack copies even an unchanged batch (the per-sequence-cache design the bench compares with).
    const cache = repack(
      next.map((s) => s.cache!),
      this.decoder.shape,
      this.opts.repackEveryStep,
    );
    this.batchCache = cache;
    next.forEach((s, row) => (s.cache = { cache, row }));
  }

  /** One decoder step for every decoding sequence; returns the tokens produced. */
  private async decodeStep(): Promise<number> {
    const rows = this.rows;
    const past = this.batchCache;
    if (rows.length === 0 || !past) {
      this.counters.batch = 0;
      return 0;
    }
    const ids = BigInt64Array.from(rows, (s) => BigInt(s.next));
    let out;
    const started = performance.now();
    try {
      out = await this.decoder.step({ ids, width: 1, past, newPads: rows.map(() => 0), starts: rows.map((s) => s.cacheLength) });
      this.decodeMs = mean(this.decodeMs, performance.now() - started);
    } catch (e) {
      for (const s of rows) s.fail(e as Error);
      this.rows = [];
      this.batchCache = undefined;
      return 0;
    }
    this.counters.batch = rows.length;
    this.batchCache = out.present;
    let produced = 0;
    rows.forEach((s, r) => {
      if (s.phase !== 'decode' || s.cancelled) return; // cancelled during the step: its token is dropped
      s.cache = { cache: out.present, row: r };
      s.accept(out.logits.subarray(r * out.vocab, (r + 1) * out.vocab));
      produced++;
    });
    this.counters.tokens += produced;
    return produced;
  }
}
