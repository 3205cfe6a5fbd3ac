/**
 * The body of `POST /v1/chat/completions`, checked field by field as OpenAI documents it
 * (https://platform.openai.com/docs/api-reference/chat/create), and turned into what the engine runs.
 * Anything this engine cannot honour is a 400 that says so rather than a setting silently ignored:
 * non-text content parts, `response_format` other than text, and `tool_choice` "required" or a named function
 * (both would need constrained decoding).
 */
import { z } from 'zod';
import { InputError } from '../core/errors.ts';
import { validate } from '../core/tasks/spec.ts';
import type { ChatItem, ChatParams, TemplateMessage } from './types.ts';

/** Most choices per request: each is a full generation on this engine. */
export const MAX_N = 16;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const contentPart = z.object({ type: z.string() }).loose();
const content = z.union([z.string(), z.array(contentPart).min(1, 'a list of content parts must not be empty')]);

const toolCall = z.object({
  id: z.string().optional(),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion(
  'role',
  [
    z.object({ role: z.literal('system'), content, name: z.string().optional() }),
    z.object({ role: z.literal('developer'), content, name: z.string().optional() }),
    z.object({ role: z.literal('user'), content, name: z.string().optional() }),
    z.object({
      role: z.literal('assistant'),
      content: content.nullish(),
      name: z.string().optional(),
      tool_calls: z.array(toolCall).optional(),
      refusal: z.string().nullish(),
    }),
    z.object({ role: z.literal('tool'), content, tool_call_id: z.string({ error: 'required: the id of the tool call this answers' }).min(1) }),
  ],
  { error: 'role must be one of system, developer, user, assistant, tool' },
);

const functionTool = z.object({
  type: z.literal('function', { error: 'only tools of type "function" are supported' }),
  function: z.object({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, _ or -'),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const chatBody = z.object({
  model: z.string().min(1).optional(),
  messages: z.array(message, { error: 'required: a non-empty list of {role, content}' }).min(1, 'must not be empty'),
  max_tokens: z.number().int().min(1).max(32768).nullish(),
  max_completion_tokens: z.number().int().min(1).max(32768).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.number().int().min(1).max(MAX_N, `at most ${MAX_N} choices per request`).nullish(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).nullish(),
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1)).max(4)], { error: 'a non-empty string, or a list of at most 4 non-empty strings' })
    .nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z
    .record(z.string(), z.number().min(-100).max(100))
    .refine((bias) => Object.keys(bias).every((k) => /^\d+$/.test(k)), 'keys are token ids (as strings), values from -100 to 100')
    .nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(functionTool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: z.object({ type: z.string() }).loose().nullish(),
  user: z.string().optional(),
});

export interface ChatRequest {
  model?: string;
  item: ChatItem;
  /** Engine params; `seed` is filled in by the handler when the caller gave none. */
  params: Omit<ChatParams, 'seed'> & { seed?: number };
  stream: boolean;
  includeUsage: boolean;
  /** Tool calls are read back from the answer (tools were given and tool_choice is not "none"). */
  toolsActive: boolean;
}

/** Text of a message's content: a string, or its text parts joined (other kinds of part are refused). */
function textOf(value: z.output<typeof content> | null | undefined, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  return value
    .map((part, i) => {
      const parsed = textPart.safeParse(part);
      if (!parsed.success) throw new InputError(`${where}[${i}]: only text content parts are supported by local models (got type "${part.type}")`);
      return parsed.data.text;
    })
    .join('');
}

/** Tool-call arguments are JSON text in OpenAI's API and objects in chat templates (Hugging Face's convention). */
function argumentsForTemplate(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? value : text;
  } catch {
    return text;
  }
}

function templateMessage(m: z.output<typeof message>, i: number): TemplateMessage {
  const where = `body.messages[${i}].content`;
  // Templates know system, user, assistant and tool; OpenAI's newer "developer" is the system prompt.
  const role = m.role === 'developer' ? 'system' : m.role;
  const out: TemplateMessage = { role, content: textOf(m.content, where) };
  if ('name' in m && m.name) out.name = m.name;
  if (m.role === 'assistant') {
    if (out.content === null && !m.tool_calls?.length) throw new InputError(`${where}: required unless the message has tool_calls`);
    if (m.tool_calls?.length) {
      out.tool_calls = m.tool_calls.map((c) => ({ ...(c.id ? { id: c.id } : {}), type: 'function', function: { name: c.function.name, arguments: argumentsForTemplate(c.function.arguments) } }));
    }
  }
  if (m.role === 'tool') out.tool_call_id = m.tool_call_id;
  return out;
}

/** Validates a chat body; throws InputError (400) naming the field at fault. */
export function parseChatRequest(body: Record<string, unknown>): ChatRequest {
  const b = validate(chatBody, body, 'body');
  if (b.top_logprobs != null && b.top_logprobs > 0 && !b.logprobs) throw new InputError('body.top_logprobs: needs "logprobs": true');
  if (b.tool_choice != null && !b.tools?.length) throw new InputError('body.tool_choice: only allowed when "tools" are given');
  if (b.tool_choice === 'required' || (b.tool_choice && typeof b.tool_choice === 'object')) {
    throw new InputError('body.tool_choice: "required" and a named function need constrained decoding, which the local engine does not do; use "auto" or "none"');
  }
  if (b.response_format && b.response_format.type !== 'text') {
    throw new InputError(`body.response_format: type "${b.response_format.type}" needs constrained decoding, which the local engine does not do; only "text" is supported`);
  }
  const messages = b.messages.map(templateMessage);
  const toolsActive = !!b.tools?.length && b.tool_choice !== 'none';
  const stop = b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
  return {
    ...(b.model ? { model: b.model } : {}),
    item: { kind: 'chat', messages, ...(toolsActive ? { tools: b.tools! } : {}) },
    params: {
      ...((b.max_completion_tokens ?? b.max_tokens) != null ? { max_tokens: (b.max_completion_tokens ?? b.max_tokens)! } : {}),
      // OpenAI's defaults: temperature 1 and top_p 1 (sampling); temperature 0 is greedy.
      temperature: b.temperature ?? 1,
      top_p: b.top_p ?? 1,
      ...(b.seed != null ? { seed: b.seed } : {}),
      n: b.n ?? 1,
      stop,
      presence_penalty: b.presence_penalty ?? 0,
      frequency_penalty: b.frequency_penalty ?? 0,
      logit_bias: b.logit_bias ?? {},
      logprobs: b.logprobs ?? false,
      top_logprobs: b.top_logprobs ?? 0,
      keep_special: toolsActive,
    },
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
    toolsActive,
  };
}
