/**
 * Tool calls written by a model, read back into OpenAI `tool_calls`. A chat template teaches the model one
 * convention, so the convention is recognised from the template's text:
 * - `hermes`: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, any number, text around them is
 *   content (Hermes, Qwen2/2.5/3, the ChatML tool templates);
 * - `llama3-json`: the whole answer is `{"name": ..., "parameters": {...}}` (Llama 3.1-3.3), optionally after
 *   `<|python_tag|>`, several separated by `;`;
 * - `mistral`: `[TOOL_CALLS]` then a JSON list `[{"name": ..., "arguments": {...}}]` (v3 tokenizers) or
 *   `name[ARGS]{...}` per call (v11+), content before it.
 * An answer that does not parse as the convention says is plain content: no call is invented from broken JSON.
 */
import { randomBytes } from 'node:crypto';

export type ToolFormat = 'hermes' | 'llama3-json' | 'mistral';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ParsedAnswer {
  content: string | null;
  toolCalls: ToolCall[];
}

/** The convention a chat template teaches, or null when it shows none (or takes no tools). */
export function toolFormatOf(template: string): ToolFormat | null {
  if (!/\btools\b/.test(template)) return null;
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('[TOOL_CALLS]')) return 'mistral';
  if (template.includes('"parameters"') || template.includes('<|python_tag|>') || template.includes('ipython')) return 'llama3-json';
  return null;
}

/** Whether the template reads `tools` at all (else tools sent with a request would be silently ignored). */
export function templateTakesTools(template: string): boolean {
  return /\btools\b/.test(template);
}

/** An id in OpenAI's shape (`call_` + 24 characters). */
export function newCallId(): string {
  return `call_${randomBytes(18).toString('base64url').slice(0, 24)}`;
}

function call(name: unknown, args: unknown): ToolCall | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  if (args !== undefined && (args === null || typeof args !== 'object') && typeof args !== 'string') return undefined;
  const text = typeof args === 'string' ? args : JSON.stringify(args ?? {});
  return { id: newCallId(), type: 'function', function: { name, arguments: text } };
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Calls from parsed JSON objects; undefined when any of them is not a call (then nothing is a call). */
function callsFrom(values: unknown[], argsKeys: string[]): ToolCall[] | undefined {
  const calls: ToolCall[] = [];
  for (const v of values) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const o = v as Record<string, unknown>;
    const key = argsKeys.find((k) => k in o);
    const c = call(o.name, key ? o[key] : undefined);
    if (!c) return undefined;
    calls.push(c);
  }
  return calls.length > 0 ? calls : undefined;
}

const plain = (text: string): ParsedAnswer => ({ content: text, toolCalls: [] });
const rest = (text: string): string | null => (text.trim() === '' ? null : text.trim());

function hermes(text: string): ParsedAnswer {
  // The last call may be cut off before its closing tag by the end-of-turn token.
  const blocks = [...text.matchAll(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g)];
  if (blocks.length === 0) return plain(text);
  const calls = callsFrom(blocks.map((m) => json(m[1] ?? '')), ['arguments', 'parameters']);
  if (!calls) return plain(text);
  return { content: rest(text.replace(/<tool_call>[\s\S]*?(?:<\/tool_call>|$)/g, '')), toolCalls: calls };
}

function llama3(text: string): ParsedAnswer {
  const body = text.trim().replace(/^<\|python_tag\|>/, '').trim();
  if (!body.startsWith('{') && !body.startsWith('[')) return plain(text);
  const whole = json(body);
  const values = Array.isArray(whole) ? whole : whole !== undefined ? [whole] : body.split(/\s*;\s*/).map(json);
  const calls = callsFrom(values, ['parameters', 'arguments']);
  return calls ? { content: null, toolCalls: calls } : plain(text);
}

function mistral(text: string): ParsedAnswer {
  const at = text.indexOf('[TOOL_CALLS]');
  if (at < 0) return plain(text);
  const after = text.slice(at + '[TOOL_CALLS]'.length).trim();
  let calls: ToolCall[] | undefined;
  if (after.startsWith('[')) {
    const list = json(after);
    calls = Array.isArray(list) ? callsFrom(list, ['arguments', 'parameters']) : undefined;
  } else {
    // v11+: name[ARGS]{json}, one per [TOOL_CALLS].
    calls = [];
    for (const part of after.split('[TOOL_CALLS]')) {
      const m = /^\s*([\w.-]+)\[ARGS\]([\s\S]*)$/.exec(part);
      const args = m ? json(m[2]!.trim()) : undefined;
      const c = m && args !== undefined ? call(m[1], args) : undefined;
      if (!c) {
        calls = undefined;
        break;
      }
      calls.push(c);
    }
  }
  return calls && calls.length > 0 ? { content: rest(text.slice(0, at)), toolCalls: calls } : plain(text);
}

/** Reads the tool calls out of a model's answer written in `format`. */
export function parseToolCalls(format: ToolFormat, text: string): ParsedAnswer {
  switch (format) {
    case 'hermes':
      return hermes(text);
    case 'llama3-json':
      return llama3(text);
    case 'mistral':
      return mistral(text);
  }
}

/**
 * Where a streamed answer may start a tool call: text from there on is held back until the answer is complete
 * and parsed. Returns the index of the first character to hold (text.length when all may be sent).
 */
export function toolCallStart(format: ToolFormat, text: string): number {
  if (format === 'llama3-json') {
    // A Llama 3 call is the whole answer: hold while the answer is blank or begins like JSON or the python tag.
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('{') || trimmed.startsWith('[') || '<|python_tag|>'.startsWith(trimmed) || trimmed.startsWith('<|python_tag|>')) return 0;
    return text.length;
  }
  const marker = format === 'hermes' ? '<tool_call>' : '[TOOL_CALLS]';
  const at = text.indexOf(marker);
  if (at >= 0) return at;
  // The end of the text may be the beginning of the marker.
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) {
    if (text.endsWith(marker.slice(0, n))) return text.length - n;
  }
  return text.length;
}
