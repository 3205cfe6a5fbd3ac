/**
 * Chat on the local engine against transformers.js on the same files and template, for both tiny chat decoders
 * (ChatML GPT-2 and Llama-style): the prompt is what `apply_chat_template` renders, greedy tokens are what
 * `generate` picks, and seeded sampling picks what transformers.js's own sampler picks after `random.seed(seed)`
 * (with the engine's penalties/top_p processor in the reference when those settings are used).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ShapeLogits } from '../../src/engine/chat/processors.ts';
import { metricValue, postJson, startServer, type TestServer } from '../helpers/server.ts';
import { CHAT_MODELS, CONVERSATION, WEATHER_TOOL, forwardLogprobs, promptIds, referenceGenerate, sseEvents } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

const chat = (body: Record<string, unknown>) => postJson(`${server.url}/v1/chat/completions`, body);
const tokensOf = (choice: { logprobs: { content: { token: string }[] } }) => choice.logprobs.content.map((t) => t.token);

describe.each(CHAT_MODELS)('%s', (model) => {
  test('greedy (temperature 0): the prompt, the tokens, the text and the usage are transformers.js generate\'s', async () => {
    const ref = await referenceGenerate(model, CONVERSATION, { max_new_tokens: 24, do_sample: false });
    const res = await chat({ model, messages: CONVERSATION, max_tokens: 24, temperature: 0, logprobs: true });
    expect(res.status).toBe(200);
    const choice = res.json.choices[0];
    expect(tokensOf(choice)).toEqual(ref.tokens);
    expect(choice.message).toEqual({ role: 'assistant', content: ref.text, refusal: null });
    expect(choice.finish_reason).toBe(ref.ids.length === 24 ? 'length' : 'stop');
    expect(res.json.usage).toEqual({ prompt_tokens: ref.promptTokens, completion_tokens: ref.ids.length, total_tokens: ref.promptTokens + ref.ids.length });
    expect(res.json.object).toBe('chat.completion');
    expect(res.json.model).toBe(model);
  });

  test('seeded sampling: the tokens transformers.js samples after random.seed(seed); same seed same answer, another seed another', async () => {
    const settings = { max_tokens: 20, temperature: 0.9, seed: 1234, logprobs: true };
    const ref = await referenceGenerate(model, CONVERSATION, { max_new_tokens: 20, do_sample: true, temperature: 0.9, top_k: 0 }, 1234);
    const a = await chat({ model, messages: CONVERSATION, ...settings });
    const b = await chat({ model, messages: CONVERSATION, ...settings });
    const other = await chat({ model, messages: CONVERSATION, ...settings, seed: 99 });
    expect(tokensOf(a.json.choices[0])).toEqual(ref.tokens);
    expect(a.json.choices[0].message.content).toBe(ref.text);
    expect(b.json.choices[0].message.content).toBe(a.json.choices[0].message.content);
    expect(other.json.choices[0].message.content).not.toBe(a.json.choices[0].message.content);
    expect(a.headers.get('x-modelhost-seed')).toBe('1234');
  });

  test('seeded sampling with top_p and OpenAI penalties equals transformers.js sampling over the same processed logits', async () => {
    const encoded = await promptIds(model, CONVERSATION);
    const n = encoded.input_ids.dims[1] as number;
    const settings = { temperature: 0.8, top_p: 0.9, presence_penalty: 0.5, frequency_penalty: 0.7, logit_bias: new Map<number, number>() };
    const processor = new ShapeLogits(n, settings);
    const ref = await referenceGenerate(model, CONVERSATION, { max_new_tokens: 20, do_sample: true, top_k: 0, logits_processor: [processor] }, 77);
    const res = await chat({ model, messages: CONVERSATION, max_tokens: 20, seed: 77, temperature: 0.8, top_p: 0.9, presence_penalty: 0.5, frequency_penalty: 0.7, logprobs: true });
    expect(tokensOf(res.json.choices[0])).toEqual(ref.tokens);
    // Not the same as without the penalties and top_p (the settings are applied, not ignored).
    const plain = await chat({ model, messages: CONVERSATION, max_tokens: 20, seed: 77, temperature: 0.8, logprobs: true });
    expect(tokensOf(plain.json.choices[0])).not.toEqual(ref.tokens);
  });

  test('logprobs are the model\'s own (one forward pass over prompt + answer), top_logprobs sorted and led by the greedy token', async () => {
    const res = await chat({ model, messages: CONVERSATION, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 3 });
    const encoded = await promptIds(model, CONVERSATION);
    const prompt = Array.from(encoded.input_ids.data as BigInt64Array, Number);
    const ref = await referenceGenerate(model, CONVERSATION, { max_new_tokens: 10, do_sample: false });
    const expected = await forwardLogprobs(model, prompt, ref.ids.slice(0, ref.tokens.length));
    const content = res.json.choices[0].logprobs.content as { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number }[] }[];
    content.forEach((entry, i) => {
      expect(entry.logprob).toBeCloseTo(expected[i]!, 4);
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
      expect(entry.top_logprobs.map((t) => t.logprob)).toEqual([...entry.top_logprobs.map((t) => t.logprob)].sort((x, y) => y - x));
      expect(Buffer.from(entry.bytes).toString('utf8')).toBe(entry.token);
    });
  });

  test('n: choice i is the answer of seed + i alone; with temperature 0 every choice is the greedy one', async () => {
    const many = await chat({ model, messages: CONVERSATION, max_tokens: 12, seed: 500, n: 3 });
    expect(many.json.choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2]);
    for (let i = 0; i < 3; i++) {
      const alone = await chat({ model, messages: CONVERSATION, max_tokens: 12, seed: 500 + i });
      expect(many.json.choices[i].message.content).toBe(alone.json.choices[0].message.content);
    }
    const greedy = await chat({ model, messages: CONVERSATION, max_tokens: 12, temperature: 0, n: 2 });
    expect(greedy.json.choices[1].message.content).toBe(greedy.json.choices[0].message.content);
    const single = await chat({ model, messages: CONVERSATION, max_tokens: 12, temperature: 0 });
    expect(greedy.json.choices[0].message.content).toBe(single.json.choices[0].message.content);
    expect(greedy.json.usage.completion_tokens).toBe(2 * single.json.usage.completion_tokens);
  });

  test('n: the choices share the scheduler\'s decoder steps (one after the other would take a step per token)', async () => {
    const steps = async () => (await metricValue(server, 'modelhost_generation_steps_total', model)) ?? 0;
    const before = await steps();
    const many = await chat({ model, messages: CONVERSATION, max_tokens: 40, seed: 900, n: 4 });
    expect(many.status).toBe(200);
    expect(many.json.choices).toHaveLength(4);
    const taken = (await steps()) - before;
    expect(taken).toBeGreaterThan(0);
    // One after the other: about a step per token (157 of 160 measured); together: about a quarter (41-44).
    expect(taken).toBeLessThanOrEqual(many.json.usage.completion_tokens / 2);
  });

  test('stop: the answer ends before the first stop sequence, finish_reason "stop"', async () => {
    const ref = await referenceGenerate(model, CONVERSATION, { max_new_tokens: 24, do_sample: false });
    const stop = ref.text.trim().slice(6, 9);
    const res = await chat({ model, messages: CONVERSATION, max_tokens: 24, temperature: 0, stop: [stop, 'zzzz-not-there'] });
    expect(res.json.choices[0].message.content).toBe(ref.text.slice(0, ref.text.indexOf(stop)));
    expect(res.json.choices[0].finish_reason).toBe('stop');
  });

  test('stream: the deltas add up to the same answer, with a role chunk, a finish chunk, usage last and [DONE]', async () => {
    const body = { model, messages: CONVERSATION, max_tokens: 16, seed: 7, logprobs: true };
    const whole = await chat(body);
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const { events, done } = sseEvents(await res.text());
    expect(done).toBe(true);
    expect(events[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    const text = events.map((e) => e.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(whole.json.choices[0].message.content);
    const streamedTokens = events.flatMap((e) => e.choices[0]?.logprobs?.content ?? []).map((t: { token: string }) => t.token);
    expect(streamedTokens).toEqual(tokensOf(whole.json.choices[0]));
    expect(events.at(-2).choices[0].finish_reason).toBe(whole.json.choices[0].finish_reason);
    expect(events.at(-1).choices).toEqual([]);
    expect(events.at(-1).usage).toEqual(whole.json.usage);
    expect(events.slice(0, -1).every((e) => e.usage === null && e.object === 'chat.completion.chunk')).toBe(true);
  });

  test('tools go to the template: the prompt is apply_chat_template with tools; tool_choice "none" leaves them out', async () => {
    const messages = [{ role: 'user', content: 'Weather in Paris?' }];
    const withTools = await promptIds(model, messages, [WEATHER_TOOL]);
    const without = await promptIds(model, messages);
    const res = await chat({ model, messages, max_tokens: 4, temperature: 0, tools: [WEATHER_TOOL] });
    expect(res.status).toBe(200);
    expect(res.json.usage.prompt_tokens).toBe(withTools.input_ids.dims[1]);
    const none = await chat({ model, messages, max_tokens: 4, temperature: 0, tools: [WEATHER_TOOL], tool_choice: 'none' });
    expect(none.json.usage.prompt_tokens).toBe(without.input_ids.dims[1]);
    expect(withTools.input_ids.dims[1]).toBeGreaterThan(without.input_ids.dims[1]);
  });

  test('a conversation with a tool call and its result renders (tool role), as transformers.js renders it', async () => {
    const messages = [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21}' },
    ];
    // Templates take tool-call arguments as objects (Hugging Face's convention).
    const templated = [messages[0], { ...messages[1], tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }, messages[2]];
    const expected = await promptIds(model, templated, [WEATHER_TOOL]);
    const res = await chat({ model, messages, max_tokens: 4, temperature: 0, tools: [WEATHER_TOOL] });
    expect(res.status).toBe(200);
    expect(res.json.usage.prompt_tokens).toBe(expected.input_ids.dims[1]);
  });
});
