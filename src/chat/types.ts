/**
 * What travels between the chat handler (HTTP side) and the chat generation in an engine worker. Everything here
 * survives structured cloning (worker threads) and JSON (endpoint replica processes).
 */
import type { ToolFormat } from './tool-calls.ts';

/** A message as chat templates expect it (Hugging Face's convention: tool-call arguments as objects). */
export interface TemplateMessage {
  role: string;
  content: string | null;
  name?: string;
  tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
}

/** One conversation to answer: the engine item of a chat request. */
export interface ChatItem {
  kind: 'chat';
  messages: TemplateMessage[];
  /** OpenAI tool definitions, passed to the template as `tools` (absent with tool_choice "none"). */
  tools?: unknown[];
}

/**
 * How to generate (the engine params of a chat request). The sampler is defined in
 * src/engine/generation/sampling.ts: temperature 0 is greedy; otherwise choice i draws from its own Mersenne
 * Twister seeded with `seed + i`.
 */
export interface ChatParams {
  /** Undefined: up to the end of the model's context. */
  max_tokens?: number;
  temperature: number;
  top_p: number;
  seed: number;
  n: number;
  stop: string[];
  presence_penalty: number;
  frequency_penalty: number;
  /** Token id -> bias added to its logit. */
  logit_bias: Record<string, number>;
  /** Report each token's logprob and, with top_logprobs > 0, that many most likely alternatives. */
  logprobs: boolean;
  top_logprobs: number;
  /** Keep special tokens in the text (tool-call markers such as [TOOL_CALLS] are special tokens). */
  keep_special: boolean;
}

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

export interface ChatChoiceOutput {
  index: number;
  /** Generated text, cut before a stop sequence. */
  text: string;
  finishReason: 'stop' | 'length';
  /** Generated tokens, the end-of-turn token included. */
  tokens: number;
  logprobs?: TokenLogprob[];
}

export interface ChatOutput {
  promptTokens: number;
  /** How this model's template writes tool calls (detected from its text), or null. */
  toolFormat: ToolFormat | null;
  choices: ChatChoiceOutput[];
}

/** Streamed from the worker: `start` once the prompt is rendered, then one `token` per generated token. */
export type ChatEvent =
  | { kind: 'start'; promptTokens: number; toolFormat: ToolFormat | null }
  | { kind: 'token'; choice: number; text: string; logprob?: TokenLogprob };

export function isChatItem(value: unknown): value is ChatItem {
  return !!value && typeof value === 'object' && (value as ChatItem).kind === 'chat';
}
