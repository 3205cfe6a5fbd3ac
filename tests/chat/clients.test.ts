/**
 * The official clients against a real server on the tiny chat models: the `openai` SDK (chat, stream, n,
 * logprobs, tools) and `@huggingface/inference` chatCompletion / chatCompletionStream (which post to
 * /models/{id}/v1/chat/completions).
 */
import { InferenceClient } from '@huggingface/inference';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { CONVERSATION, WEATHER_TOOL } from './helpers.ts';

let server: TestServer;
let openai: OpenAI;
beforeAll(async () => {
  server = await startServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused' });
});
afterAll(async () => {
  await server?.close();
});

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;
const messages = CONVERSATION as Message[];

describe('openai SDK', () => {
  test('chat.completions.create answers what the HTTP API answers', async () => {
    const answer = await openai.chat.completions.create({ model: 'tiny/llama-chat', messages, max_tokens: 12, temperature: 0 });
    const raw = await postJson(`${server.url}/v1/chat/completions`, { model: 'tiny/llama-chat', messages, max_tokens: 12, temperature: 0 });
    expect(answer.choices[0]!.message.content).toBe(raw.json.choices[0].message.content);
    expect(answer.choices[0]!.message.role).toBe('assistant');
    expect(answer.usage).toEqual(raw.json.usage);
    expect(answer.id).toMatch(/^chatcmpl-/);
  });

  test('stream (with include_usage) gives the non-streamed answer for the same seed', async () => {
    const whole = await openai.chat.completions.create({ model: 'tiny/gpt2-chat', messages, max_tokens: 16, seed: 3 });
    const stream = await openai.chat.completions.create({ model: 'tiny/gpt2-chat', messages, max_tokens: 16, seed: 3, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage).toEqual(whole.usage);
  });

  test('the SDK stream helper assembles the same message', async () => {
    const whole = await openai.chat.completions.create({ model: 'tiny/gpt2-chat', messages, max_tokens: 10, seed: 11 });
    const runner = openai.chat.completions.stream({ model: 'tiny/gpt2-chat', messages, max_tokens: 10, seed: 11 });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(whole.choices[0]!.message.content);
  });

  test('n and logprobs', async () => {
    const answer = await openai.chat.completions.create({ model: 'tiny/llama-chat', messages, max_tokens: 6, seed: 21, n: 3, logprobs: true, top_logprobs: 2 });
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    for (const c of answer.choices) {
      const content = c.logprobs!.content!;
      expect(content.map((t) => t.token).join('')).toBe(c.message.content);
      for (const t of content) {
        expect(t.logprob).toBeLessThanOrEqual(0);
        expect(t.top_logprobs).toHaveLength(2);
      }
    }
    expect(new Set(answer.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
  });

  test('tools and tool_choice "auto" are accepted; the answer has no tool call the model did not write', async () => {
    const answer = await openai.chat.completions.create({
      model: 'tiny/gpt2-chat',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL as OpenAI.Chat.Completions.ChatCompletionTool],
      tool_choice: 'auto',
      max_tokens: 8,
      temperature: 0,
    });
    expect(answer.choices[0]!.message.tool_calls).toBeUndefined();
    expect(answer.choices[0]!.finish_reason).not.toBe('tool_calls');
    expect(typeof answer.choices[0]!.message.content).toBe('string');
  });

  test('a 400 arrives as the SDK\'s BadRequestError with the server\'s message', async () => {
    const error = await openai.chat.completions.create({ model: 'tiny/gpt2', messages, max_tokens: 4 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/no chat template/);
  });
});

describe('@huggingface/inference', () => {
  const client = new InferenceClient('unused');
  const hfMessages = CONVERSATION.map((m) => ({ ...m }));
  test('chatCompletion on /models/{id} answers what the OpenAI route answers', async () => {
    const out = await client.chatCompletion({ endpointUrl: `${server.url}/models/tiny/llama-chat`, messages: hfMessages, max_tokens: 10, temperature: 0 });
    const raw = await postJson(`${server.url}/v1/chat/completions`, { model: 'tiny/llama-chat', messages, max_tokens: 10, temperature: 0 });
    expect(out.choices[0]!.message.content).toBe(raw.json.choices[0].message.content);
    expect(out.usage).toEqual(raw.json.usage);
  });

  test('chatCompletionStream adds up to the same answer', async () => {
    const raw = await postJson(`${server.url}/v1/chat/completions`, { model: 'tiny/gpt2-chat', messages, max_tokens: 12, seed: 8 });
    let text = '';
    for await (const chunk of client.chatCompletionStream({ endpointUrl: `${server.url}/models/tiny/gpt2-chat`, messages: hfMessages, max_tokens: 12, seed: 8 })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(raw.json.choices[0].message.content);
  });
});
