import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

const GEN = 'tiny/gpt2';
const EMBED = 'tiny/minilm-embed';

describe('the official openai SDK against /v1', () => {
  let server: TestServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await startServer();
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('completions: the greedy continuation transformers.js gives, streamed or not', async () => {
    const prompt = 'Once upon a time';
    const done = await client.completions.create({ model: GEN, prompt, max_tokens: 8 });
    const pipe = await reference('text-generation', GEN);
    const [ref] = (await pipe(prompt, { max_new_tokens: 8, do_sample: false, return_full_text: false })) as { generated_text: string }[];
    expect(done.choices[0]!.text).toBe(ref!.generated_text);
    expect(done.object).toBe('text_completion');
    expect(done.usage!.completion_tokens).toBe(8);
    expect(done.choices[0]!.finish_reason).toBe('length');

    const stream = await client.completions.create({ model: GEN, prompt, max_tokens: 8, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(done.choices[0]!.text);
    expect(finish).toBe('length');
  });

  it('embeddings: unit vectors equal to transformers.js mean pooling, in base64 (the SDK default) and float', async () => {
    const input = ['The quick brown fox.', 'A completely different sentence about rain.'];
    const res = await client.embeddings.create({ model: EMBED, input });
    const pipe = await reference('feature-extraction', EMBED);
    const ref = ((await pipe(input, { pooling: 'mean', normalize: true })) as { tolist(): number[][] }).tolist();
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    res.data.forEach((d, i) => expectClose(d.embedding, ref[i], 1e-4));
    const tokens = input.reduce((n, t) => n + (pipe.tokenizer(t).input_ids.dims[1] as number), 0);
    expect(res.usage.prompt_tokens).toBe(tokens);

    const float = await postJson(`${server.url}/v1/embeddings`, { model: EMBED, input: input[0], encoding_format: 'float' });
    expect(float.status).toBe(200);
    expectClose(float.json.data[0].embedding, ref[0], 1e-4);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining([GEN, EMBED]));
  });

  it('raises the SDK error classes with the server message for bad requests', async () => {
    const missing = await client.completions.create({ model: 'nobody/nothing', prompt: 'hi' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as Error).message).toMatch(/nobody\/nothing does not exist/);
    const bad = await client.completions.create({ model: GEN, prompt: 'hi', max_tokens: 0 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as Error).message).toMatch(/max_tokens/);
    const wrongTask = await client.embeddings.create({ model: GEN, input: 'hi' }).catch((e: unknown) => e);
    expect(wrongTask).toBeInstanceOf(OpenAI.BadRequestError);
    expect((wrongTask as Error).message).toMatch(/does not support task feature-extraction/);
    const dims = await client.embeddings.create({ model: EMBED, input: 'hi', dimensions: 8 }).catch((e: unknown) => e);
    expect(dims).toBeInstanceOf(OpenAI.BadRequestError);
    expect((dims as Error).message).toMatch(/dimensions/);
    const tokensIn = await postJson(`${server.url}/v1/embeddings`, { model: EMBED, input: [[1, 2, 3]] });
    expect(tokensIn.status).toBe(400);
    expect(tokensIn.json.error).toMatchObject({ type: 'invalid_request_error' });
  });
});
