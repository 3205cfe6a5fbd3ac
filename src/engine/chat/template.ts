/**
 * A model's chat template and the prompt it renders, exactly as transformers.js does it
 * (`tokenizer.apply_chat_template` over @huggingface/jinja, with `add_generation_prompt`, the tokenizer's special
 * tokens, and the prompt tokenized without adding special tokens again). The template comes from
 * tokenizer_config.json's `chat_template` (a string, or named templates where `tool_use` serves requests with
 * tools) or else from `chat_template.jinja` next to it, which transformers.js's tokenizer does not read itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.ts';
import type { ChatItem } from '../../chat/types.ts';
import type { Encoded, Tokenizer } from '../tasks/types.ts';

export interface ChatTokenizer extends Tokenizer {
  chat_template?: string | Record<string, string> | null;
  apply_chat_template(messages: unknown[], options: Record<string, unknown>): Encoded;
}

/** The template this request renders with, or a 400 naming what is missing. */
export function chatTemplateOf(tokenizer: ChatTokenizer, dir: string, modelId: string, withTools: boolean): string {
  const own = tokenizer.chat_template;
  if (typeof own === 'string' && own) return own;
  if (own && typeof own === 'object') {
    const chosen = (withTools ? own.tool_use : undefined) ?? own.default;
    if (chosen) return chosen;
  }
  const file = path.join(dir, 'chat_template.jinja');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  throw new InputError(
    `Model ${modelId} has no chat template (no "chat_template" in tokenizer_config.json and no chat_template.jinja), so it cannot answer chat messages; use /v1/completions with a prompt instead`,
  );
}

/** The prompt's token ids, rendered from the conversation (template errors are the caller's: a 400). */
export function renderChat(tokenizer: ChatTokenizer, template: string, item: ChatItem, modelId: string): Encoded {
  try {
    return tokenizer.apply_chat_template(item.messages, {
      chat_template: template,
      tools: item.tools ?? null,
      add_generation_prompt: true,
      return_dict: true,
    });
  } catch (e) {
    // Templates refuse what they cannot render with raise_exception (e.g. Llama 3.1: one tool call per turn).
    throw new InputError(`The chat template of ${modelId} cannot render these messages: ${(e as Error).message}`);
  }
}
