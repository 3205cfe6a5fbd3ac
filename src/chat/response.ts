/**
 * OpenAI's answer shapes for chat (https://platform.openai.com/docs/api-reference/chat/object and
 * .../chat/streaming): the completion object, and the chunks of a stream, from what the engine returned.
 */
import { parseToolCalls, toolCallStart, type ToolCall, type ToolFormat } from './tool-calls.ts';
import type { ChatChoiceOutput, ChatOutput, TokenLogprob } from './types.ts';

export interface AnswerIds {
  id: string;
  created: number;
  model: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(out: ChatOutput): Usage {
  const completion = out.choices.reduce((n, c) => n + c.tokens, 0);
  return { prompt_tokens: out.promptTokens, completion_tokens: completion, total_tokens: out.promptTokens + completion };
}

/** The assistant message and finish reason of one choice; tool calls are read back when tools were active. */
function message(choice: ChatChoiceOutput, toolFormat: ToolFormat | null) {
  const parsed = toolFormat ? parseToolCalls(toolFormat, choice.text) : { content: choice.text, toolCalls: [] as ToolCall[] };
  const calls = parsed.toolCalls;
  return {
    message: { role: 'assistant' as const, content: parsed.content, refusal: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
    finish_reason: calls.length > 0 ? 'tool_calls' : choice.finishReason,
  };
}

export function completionBody(ids: AnswerIds, out: ChatOutput, toolsActive: boolean) {
  return {
    id: ids.id,
    object: 'chat.completion',
    created: ids.created,
    model: ids.model,
    system_fingerprint: null,
    choices: out.choices.map((c) => {
      const { message: m, finish_reason } = message(c, toolsActive ? out.toolFormat : null);
      return { index: c.index, message: m, logprobs: c.logprobs ? { content: c.logprobs, refusal: null } : null, finish_reason };
    }),
    usage: usageOf(out),
  };
}

/** What one streamed choice has sent, so that held text (a possible tool call) goes out as content or calls at the end. */
export class ChoiceStream {
  started = false;
  private text = '';
  private sent = 0;
  private queued: TokenLogprob[] = [];

  constructor(private readonly toolFormat: ToolFormat | null) {}

  /** Adds generated text; returns the content delta and logprobs that may be sent now. */
  push(text: string, logprob?: TokenLogprob): { content: string; logprobs: TokenLogprob[] } {
    this.text += text;
    if (logprob) this.queued.push(logprob);
    const safe = this.toolFormat ? toolCallStart(this.toolFormat, this.text) : this.text.length;
    if (safe <= this.sent) return { content: '', logprobs: [] };
    const content = this.text.slice(this.sent, safe);
    this.sent = safe;
    const logprobs = this.queued;
    this.queued = [];
    return { content, logprobs };
  }

  /** The end: held text as content, or the tool calls it holds, and the finish reason. */
  finish(reason: 'stop' | 'length'): { content: string; logprobs: TokenLogprob[]; toolCalls: ToolCall[]; finishReason: string } {
    const held = this.text.slice(this.sent);
    const calls = this.toolFormat && held ? parseToolCalls(this.toolFormat, held).toolCalls : [];
    if (calls.length > 0) return { content: '', logprobs: [], toolCalls: calls, finishReason: 'tool_calls' };
    return { content: held, logprobs: this.queued, toolCalls: [], finishReason: reason };
  }
}
