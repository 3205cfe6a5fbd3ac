/** Bad chat requests: each is a 4xx in OpenAI's error shape that names what is wrong, never a crash or a stack. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

const user = [{ role: 'user', content: 'Hello' }];
const ok = { model: 'tiny/gpt2-chat', messages: user, max_tokens: 4 };
const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } };
const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } };

/** [what is wrong, body (a string is sent as is), expected status, what the message must mention] */
const CASES: [string, unknown, number, RegExp][] = [
  ['not JSON', '{"model": ', 400, /not valid JSON/],
  ['an empty body', '', 400, /empty/],
  ['a JSON list', '[1]', 400, /JSON object/],
  ['no model', { messages: user }, 400, /model/],
  ['an unknown model', { ...ok, model: 'nobody/nothing' }, 404, /nobody\/nothing/],
  ['a model of another task', { ...ok, model: 'tiny/bert-sentiment' }, 400, /text-generation/],
  ['a generation model without a chat template', { ...ok, model: 'tiny/gpt2' }, 400, /no chat template/],
  ['no messages', { model: 'tiny/gpt2-chat' }, 400, /messages/],
  ['empty messages', { ...ok, messages: [] }, 400, /messages/],
  ['messages not a list', { ...ok, messages: 'Hello' }, 400, /messages/],
  ['an unknown role', { ...ok, messages: [{ role: 'wizard', content: 'x' }] }, 400, /role/],
  ['content a number', { ...ok, messages: [{ role: 'user', content: 42 }] }, 400, /messages\.0\.content/],
  ['user content null', { ...ok, messages: [{ role: 'user', content: null }] }, 400, /messages\.0\.content/],
  ['an assistant turn with neither content nor tool_calls', { ...ok, messages: [...user, { role: 'assistant', content: null }, ...user] }, 400, /tool_calls/],
  ['a tool message without tool_call_id', { ...ok, messages: [...user, { role: 'tool', content: '1' }] }, 400, /tool_call_id/],
  ['an image part', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,' } }] }] }, 400, /only text content parts/],
  ['temperature 3', { ...ok, temperature: 3 }, 400, /temperature/],
  ['top_p 0', { ...ok, top_p: 0 }, 400, /top_p/],
  ['n 0', { ...ok, n: 0 }, 400, /\bn\b/],
  ['n 100', { ...ok, n: 100 }, 400, /at most 16/],
  ['max_tokens 0', { ...ok, max_tokens: 0 }, 400, /max_tokens/],
  ['max_tokens past the context', { ...ok, max_tokens: 5000 }, 400, /context length/],
  ['five stop sequences', { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 400, /at most 4/],
  ['presence_penalty 3', { ...ok, presence_penalty: 3 }, 400, /presence_penalty/],
  ['a negative seed', { ...ok, seed: -1 }, 400, /seed/],
  ['logit_bias keyed by a word', { ...ok, logit_bias: { hello: 5 } }, 400, /token ids/],
  ['top_logprobs without logprobs', { ...ok, top_logprobs: 2 }, 400, /logprobs/],
  ['top_logprobs 25', { ...ok, logprobs: true, top_logprobs: 25 }, 400, /top_logprobs/],
  ['stream "yes"', { ...ok, stream: 'yes' }, 400, /stream/],
  ['tool_choice without tools', { ...ok, tool_choice: 'auto' }, 400, /only allowed when "tools"/],
  ['tool_choice "required"', { ...ok, tools: [tool], tool_choice: 'required' }, 400, /constrained decoding/],
  ['a named tool_choice', { ...ok, tools: [tool], tool_choice: { type: 'function', function: { name: 'get_weather' } } }, 400, /constrained decoding/],
  ['a tool that is not a function', { ...ok, tools: [{ type: 'retrieval' }] }, 400, /function/],
  ['a tool name with spaces', { ...ok, tools: [{ type: 'function', function: { name: 'get weather' } }] }, 400, /function name/],
  ['response_format json_schema', { ...ok, response_format: { type: 'json_schema', json_schema: {} } }, 400, /constrained decoding/],
  ['two tool calls in one turn for Llama 3.1 (its template refuses)', { ...ok, model: 'tiny/llama-chat', messages: [...user, { role: 'assistant', content: null, tool_calls: [call, { ...call, id: 'c2' }] }] }, 400, /single tool-calls/],
  ['tools for Llama 3.1 without a user message (its template refuses)', { ...ok, model: 'tiny/llama-chat', messages: [{ role: 'system', content: 'x' }], tools: [tool] }, 400, /first user message/],
];

/** The same bodies on the model's own URL, where the URL names the model (so cases about `model` do not apply). */
const MODEL_CASES = new Set(['no model', 'an unknown model', 'a model of another task', 'a generation model without a chat template']);
const urlCases = CASES.filter(([what]) => !MODEL_CASES.has(what));

async function send(path: string, body: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { error: { message: string; type: string; code: string; param: null } } };
}

function expectOpenAiError(res: Awaited<ReturnType<typeof send>>, status: number, mention: RegExp) {
  expect(res.status).toBe(status);
  expect(res.json.error.message).toMatch(mention);
  expect(res.json.error.type).toBe('invalid_request_error');
  expect(typeof res.json.error.code).toBe('string');
  expect(JSON.stringify(res.json)).not.toMatch(/\bat \S+\.(ts|js):\d+/);
}

describe('malformed chat requests', () => {
  test(`there are at least 20 cases (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });
  test.each(CASES)('/v1/chat/completions: %s', async (_what, body, status, mention) => {
    expectOpenAiError(await send('/v1/chat/completions', body), status, mention);
  });
  test.each(urlCases)('/models/{id}/v1/chat/completions: %s', async (_what, body, status, mention) => {
    const model = typeof body === 'object' && body && (body as { model?: string }).model === 'tiny/llama-chat' ? 'tiny/llama-chat' : 'tiny/gpt2-chat';
    expectOpenAiError(await send(`/models/${model}/v1/chat/completions`, body), status, mention);
  });
});
