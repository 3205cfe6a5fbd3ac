/**
 * One generation in the scheduler: its prompt, settings, sampler and text, where its KV cache is, and how it
 * reports back. Its tokens depend only on its own prompt, settings and seed.
 */
import { ModelhostError } from '../../core/errors.ts';
import type { CacheRow } from './kv.ts';
import { Sampler, type Pick, type TokenChooser } from './sampler.ts';
import type { GenerationSettings } from './settings.ts';
import { TokenText, type TokenEvent } from './text.ts';

/** What the caller can cancel with: an AbortSignal, or the server's own CallSignal. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface GenerationResult {
  /** Generated tokens with their text and log-probabilities (the eos token included when it ended generation). */
  tokens: TokenEvent[];
  /** Only the new text (special tokens skipped). */
  text: string;
  finishReason: 'length' | 'eos_token' | 'stop_sequence';
  promptTokens: number;
}

/** The error a cancelled generation rejects with (nobody is listening any more; 499 as nginx logs it). */
export const cancelledError = () => new ModelhostError('internal', 499, 'The caller cancelled the generation');

/** Called as each token's text becomes known; returning true ends the generation there (a stop the caller found). */
export type OnToken = (token: TokenEvent, index: number) => boolean | void;

export type Phase = 'queued' | 'prefill' | 'decode' | 'done';

export class Sequence {
  phase: Phase = 'queued';
  /** Prompt tokens already in the cache. */
  prefilled = 0;
  /** Where this sequence's cache is: a row of the decode batch's, or of its own prefill's. */
  cache: CacheRow | undefined;
  /** The token to feed at the next decode step. */
  next = 0;
  cancelled = false;
  readonly sampler: TokenChooser;
  /** The caller's onToken asked to end here (it found its own stop). */
  private stopRequested = false;
  private readonly onAbort = () => this.cancel();

  constructor(
    readonly promptIds: readonly number[],
    readonly settings: GenerationSettings,
    readonly text: TokenText,
    private readonly eos: ReadonlySet<number>,
    private readonly handlers: {
      onToken?: OnToken;
      resolve: (result: GenerationResult) => void;
      reject: (error: Error) => void;
      /** The scheduler is told, so that a queued sequence leaves the queue at once. */
      onCancel: (seq: Sequence) => void;
    },
    private readonly signal?: CancelSignal,
    chooser?: TokenChooser,
  ) {
    this.sampler = chooser ?? new Sampler(settings, promptIds);
    signal?.addEventListener('abort', this.onAbort);
  }

  /** Positions of this sequence in its cache. */
  get cacheLength(): number {
    return this.prefilled + Math.max(0, this.text.ids.length - 1);
  }

  /** Prompt plus every token it may generate: what it holds at most (admission bounds). */
  get maxTokens(): number {
    return this.promptIds.length + this.settings.maxNewTokens;
  }

  private cancel(): void {
    if (this.phase === 'done' || this.cancelled) return;
    this.cancelled = true;
    this.handlers.onCancel(this);
  }

  /** Samples from this sequence's logits row, reports the token(s) now known; returns whether it is finished. */
  accept(logits: Float32Array): boolean {
    const pick: Pick = this.sampler.next(logits);
    this.next = pick.id;
    this.emit(this.text.push(pick.id, pick.logprob, pick.top));
    const finished = this.text.stopped || this.stopRequested || this.eos.has(pick.id) || this.text.ids.length >= this.settings.maxNewTokens;
    if (finished) this.finish();
    return finished;
  }

  /** Reports tokens just released (they are the last ones of text.tokens). */
  private emit(released: TokenEvent[]): void {
    const start = this.text.tokens.length - released.length;
    released.forEach((token, i) => {
      if (this.handlers.onToken?.(token, start + i) === true) this.stopRequested = true;
    });
  }

  private finish(): void {
    this.emit(this.text.finish());
    this.close();
    const last = this.text.ids[this.text.ids.length - 1];
    this.handlers.resolve({
      tokens: this.text.tokens,
      text: this.text.text,
      finishReason: this.text.stopped || this.stopRequested ? 'stop_sequence' : last !== undefined && this.eos.has(last) ? 'eos_token' : 'length',
      promptTokens: this.promptIds.length,
    });
  }

  /** Ends the sequence without a result (cancelled, or its forward pass failed). */
  fail(error: Error): void {
    if (this.phase === 'done') return;
    this.close();
    this.handlers.reject(error);
  }

  private close(): void {
    this.phase = 'done';
    this.cache = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
