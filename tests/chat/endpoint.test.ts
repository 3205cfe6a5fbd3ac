/** A dedicated endpoint of a local chat model answers /endpoints/{name}/v1/chat/completions in its replica process. */
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { postJson, type TestServer } from '../helpers/server.ts';
import { api, startEndpointServer } from '../endpoints/helpers.ts';
import { CONVERSATION } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startEndpointServer();
});
afterAll(async () => {
  await server?.close();
});

test('the endpoint answers chat as the serverless route does (same seed, same answer), streamed through the SDK too', async () => {
  const a = api(server);
  expect((await a.create({ name: 'chatty', type: 'public', model: { repository: 'tiny/gpt2-chat' } })).status).toBeLessThan(300);
  await a.until('chatty', 'running', 1, 60_000);
  const body = { messages: CONVERSATION, max_tokens: 10, seed: 5 };
  const served = await postJson(`${server.url}/v1/chat/completions`, { ...body, model: 'tiny/gpt2-chat' });
  const viaEndpoint = await postJson(`${server.url}/endpoints/chatty/v1/chat/completions`, body);
  expect(viaEndpoint.status).toBe(200);
  expect(viaEndpoint.headers.get('x-modelhost-endpoint')).toBe('chatty');
  expect(viaEndpoint.json.choices[0].message.content).toBe(served.json.choices[0].message.content);
  const openai = new OpenAI({ baseURL: `${server.url}/endpoints/chatty/v1`, apiKey: 'unused' });
  let text = '';
  for await (const chunk of await openai.chat.completions.create({ model: 'anything', messages: CONVERSATION as OpenAI.Chat.Completions.ChatCompletionMessageParam[], max_tokens: 10, seed: 5, stream: true })) {
    text += chunk.choices[0]?.delta.content ?? '';
  }
  expect(text).toBe(served.json.choices[0].message.content);
  const refused = await postJson(`${server.url}/endpoints/chatty/v1/chat/completions`, { messages: [] });
  expect(refused.status).toBe(400);
  expect(refused.json.error.type).toBe('invalid_request_error');
  await a.remove('chatty');
}, 120_000);
