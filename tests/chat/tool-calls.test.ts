/** Tool calls read back from given model answers, one convention at a time (src/chat/tool-calls.ts). */
import { describe, expect, test } from 'vitest';
import { parseToolCalls, toolCallStart, toolFormatOf } from '../../src/chat/tool-calls.ts';
import { CHATML_TEMPLATE, LLAMA3_TEMPLATE } from '../../tools/tiny-models/chat-templates.ts';

const calls = (format: Parameters<typeof parseToolCalls>[0], text: string) => {
  const parsed = parseToolCalls(format, text);
  return { content: parsed.content, calls: parsed.toolCalls.map((c) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) as unknown, type: c.type, idOk: /^call_[\w-]{24}$/.test(c.id) })) };
};

describe('the convention comes from the template', () => {
  test('ChatML/Qwen templates are Hermes, Llama 3.1 is JSON, a [TOOL_CALLS] template is Mistral, no tools is none', () => {
    expect(toolFormatOf(CHATML_TEMPLATE)).toBe('hermes');
    expect(toolFormatOf(LLAMA3_TEMPLATE)).toBe('llama3-json');
    expect(toolFormatOf('{%- if tools %}[AVAILABLE_TOOLS]{{ tools|tojson }}[/AVAILABLE_TOOLS]{% endif %}[TOOL_CALLS]')).toBe('mistral');
    expect(toolFormatOf("{% for m in messages %}{{ m.content }}{% endfor %}")).toBeNull();
  });
});

describe('Hermes <tool_call>', () => {
  test('one call, no content', () => {
    expect(calls('hermes', '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')).toEqual({
      content: null,
      calls: [{ name: 'get_weather', args: { city: 'Paris' }, type: 'function', idOk: true }],
    });
  });
  test('two calls with text before them: the text is the content', () => {
    const text = 'Let me check both.\n<tool_call>{"name": "a", "arguments": {}}</tool_call>\n<tool_call>{"name": "b", "arguments": {"x": [1, 2]}}</tool_call>';
    expect(calls('hermes', text)).toEqual({
      content: 'Let me check both.',
      calls: [
        { name: 'a', args: {}, type: 'function', idOk: true },
        { name: 'b', args: { x: [1, 2] }, type: 'function', idOk: true },
      ],
    });
  });
  test('a call cut off before </tool_call> (the end-of-turn token came first) still counts', () => {
    expect(calls('hermes', '<tool_call>{"name": "f", "arguments": {"q": "w"}}').calls).toEqual([{ name: 'f', args: { q: 'w' }, type: 'function', idOk: true }]);
  });
  test('broken JSON is no call: the text stays content', () => {
    const text = '<tool_call>{"name": "f", "arguments": {"q": </tool_call>';
    expect(calls('hermes', text)).toEqual({ content: text, calls: [] });
  });
  test('plain text is content', () => {
    expect(calls('hermes', 'Just an answer.')).toEqual({ content: 'Just an answer.', calls: [] });
  });
});

describe('Llama 3 JSON', () => {
  test('the whole answer is one call with "parameters"', () => {
    expect(calls('llama3-json', ' {"name": "get_weather", "parameters": {"city": "Lyon"}}')).toEqual({
      content: null,
      calls: [{ name: 'get_weather', args: { city: 'Lyon' }, type: 'function', idOk: true }],
    });
  });
  test('after <|python_tag|>, and several separated by ";"', () => {
    expect(calls('llama3-json', '<|python_tag|>{"name": "a", "parameters": {"n": 1}}; {"name": "b", "parameters": {}}').calls.map((c) => c.name)).toEqual(['a', 'b']);
  });
  test('JSON that is not a call (no name) and text that mentions JSON are content', () => {
    expect(calls('llama3-json', '{"answer": 42}')).toEqual({ content: '{"answer": 42}', calls: [] });
    expect(calls('llama3-json', 'Use {"name": "x"} like this')).toEqual({ content: 'Use {"name": "x"} like this', calls: [] });
  });
});

describe('Mistral [TOOL_CALLS]', () => {
  test('v3 JSON list, content before it', () => {
    expect(calls('mistral', 'Sure. [TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Nice"}, "id": "abc123def"}]')).toEqual({
      content: 'Sure.',
      calls: [{ name: 'get_weather', args: { city: 'Nice' }, type: 'function', idOk: true }],
    });
  });
  test('v11 name[ARGS]{json}, twice', () => {
    expect(calls('mistral', '[TOOL_CALLS]a[ARGS]{"x": 1}[TOOL_CALLS]b[ARGS]{}').calls.map((c) => [c.name, c.args])).toEqual([
      ['a', { x: 1 }],
      ['b', {}],
    ]);
  });
  test('without the marker it is content', () => {
    expect(calls('mistral', '[{"name": "a", "arguments": {}}]').calls).toEqual([]);
  });
});

describe('streaming holds back what may be a tool call', () => {
  test('Hermes: from the marker, or from a possible start of it at the end', () => {
    expect(toolCallStart('hermes', 'Hello <tool_call>{')).toBe(6);
    expect(toolCallStart('hermes', 'Hello <tool')).toBe(6);
    expect(toolCallStart('hermes', 'Hello there')).toBe(11);
  });
  test('Llama 3: an answer that starts like JSON is held whole; prose is not', () => {
    expect(toolCallStart('llama3-json', '  {"na')).toBe(0);
    expect(toolCallStart('llama3-json', '<|pyth')).toBe(0);
    expect(toolCallStart('llama3-json', 'Hello')).toBe(5);
  });
  test('Mistral: from [TOOL_CALLS]', () => {
    expect(toolCallStart('mistral', 'ok [TOOL_CALLS][')).toBe(3);
  });
});
