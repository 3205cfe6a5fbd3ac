import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { pipelineAnswer, sharedSeq2SeqChecks, type Seq2SeqCase } from './seq2seq-helpers.ts';
import { TEXTS } from './text-task-helpers.ts';

describe('summarization (tiny/bart: BART shape, byte-level BPE)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  const bart: Seq2SeqCase = {
    task: 'summarization',
    model: 'tiny/bart',
    key: 'summary_text',
    base: {},
    asPipelineInput: (t) => t,
    endsEarly: true,
    server: () => server,
  };
  sharedSeq2SeqChecks(bart);

  it('is the model\'s own task: POST /models/{id} answers summary_text; its other seq2seq tasks use their keys', async () => {
    const text = TEXTS[4]!;
    const expected = await pipelineAnswer(bart, text, { max_new_tokens: 10 });
    const plain = await postJson(`${server.url}/models/tiny/bart`, { inputs: text, parameters: { max_new_tokens: 10 } });
    expect(plain.json).toEqual([{ summary_text: expected }]);
    const asText2Text = await postJson(`${server.url}/models/tiny/bart/pipeline/text2text-generation`, { inputs: text, parameters: { max_new_tokens: 10 } });
    expect(asText2Text.json).toEqual([{ generated_text: expected }]);
  });

  it('a T5 model summarizes with its "summarize: " prefix, as the pipeline adds it', async () => {
    const t5: Seq2SeqCase = { ...bart, model: 'tiny/t5' };
    const text = TEXTS[6]!;
    const res = await postJson(`${server.url}/models/tiny/t5/pipeline/summarization`, { inputs: text, parameters: { max_new_tokens: 12 } });
    expect(res.json).toEqual([{ summary_text: await pipelineAnswer(t5, text, { max_new_tokens: 12 }) }]);
    const bare = await postJson(`${server.url}/models/tiny/t5/pipeline/text2text-generation`, { inputs: text, parameters: { max_new_tokens: 12 } });
    const prefixed = await postJson(`${server.url}/models/tiny/t5/pipeline/text2text-generation`, { inputs: `summarize: ${text}`, parameters: { max_new_tokens: 12 } });
    expect(prefixed.json[0].generated_text).toBe(res.json[0].summary_text);
    expect(bare.json[0].generated_text).not.toBe(res.json[0].summary_text);
  });

  it('@huggingface/inference summarization returns what the server answers', async () => {
    const client = new InferenceClient('hf_test');
    const endpointUrl = `${server.url}/models/tiny/bart`;
    for (const parameters of [undefined, { generate_parameters: { max_new_tokens: 9 } }]) {
      const raw = await postJson(endpointUrl, { inputs: TEXTS[0], parameters });
      expect(raw.status).toBe(200);
      expect(await client.summarization({ endpointUrl, inputs: TEXTS[0]!, ...(parameters ? { parameters } : {}) })).toEqual(raw.json[0]);
    }
  });
});
