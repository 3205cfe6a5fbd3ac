import type { CancelSignal, GenerationContext } from '../generation/index.ts';

/**
 * The slice of transformers.js objects the task handlers use. transformers.js ships loose JSDoc types;
 * naming what we rely on keeps handlers strictly typed and shows what a runtime upgrade must keep.
 */
export interface TensorLike {
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array;
  tolist(): unknown;
}

export type Encoded = Record<string, TensorLike> & { input_ids: TensorLike; attention_mask: TensorLike };

export interface Tokenizer {
  (text: string | string[], options?: Record<string, unknown>): Encoded;
  decode(ids: (number | bigint)[], options?: { skip_special_tokens?: boolean }): string;
  get_vocab(): Map<string, number> | Record<string, number>;
  mask_token?: string;
  mask_token_id?: number;
  sep_token_id?: number;
  eos_token_id?: number;
  pad_token_id?: number;
  all_special_ids: number[];
  model_max_length: number;
}

export interface Model {
  (inputs: Record<string, unknown>): Promise<Record<string, TensorLike>>;
  config: Record<string, unknown> & { id2label?: Record<string, string>; problem_type?: string };
  generate(options: Record<string, unknown>): Promise<TensorLike>;
}

export interface Pipe {
  (...args: unknown[]): Promise<unknown>;
  tokenizer: Tokenizer;
  model: Model;
  processor?: (images: unknown) => Promise<Record<string, TensorLike>>;
}

/** Everything a handler gets besides its inputs. */
export interface HandlerContext {
  pipe: Pipe;
  /** Model folder, for extra files such as sentence-transformers settings. */
  dir: string;
  /** Generation tasks: the bounds of the model's scheduler and where it reports (src/engine/generation). */
  generation?: GenerationContext;
  /** Aborted when the caller has gone: a generation stops at its next step. */
  signal?: CancelSignal;
}

export type TaskHandler = (
  ctx: HandlerContext,
  inputs: unknown[],
  params: Record<string, unknown>,
  emit?: (event: unknown) => void,
) => Promise<unknown[]>;
