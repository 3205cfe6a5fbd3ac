import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { pipelineAnswer, sharedSeq2SeqChecks, type Seq2SeqCase } from './seq2seq-helpers.ts';
import { expectError, TEXTS } from './text-task-helpers.ts';

describe('text2text-generation (tiny/t5: T5 shape, SentencePiece Unigram)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  const t5: Seq2SeqCase = {
    task: 'text2text-generation',
    model: 'tiny/t5',
    key: 'generated_text',
    base: {},
    asPipelineInput: (t) => t,
    endsEarly: false,
    server: () => server,
  };
  sharedSeq2SeqChecks(t5);

  describe('@huggingface/inference', () => {
    const client = new InferenceClient('hf_test');

    it('textGeneration (which posts to /v1/completions) returns the model\'s text2text answer', async () => {
      const endpointUrl = `${server.url}/models/tiny/t5`;
      for (const text of TEXTS.slice(0, 3)) {
        const out = await client.textGeneration({ endpointUrl, inputs: text, parameters: { max_new_tokens: 12 } });
        expect(out).toEqual({ generated_text: await pipelineAnswer(t5, text, { max_new_tokens: 12 }) });
      }
    });

    it('/v1/completions on a seq2seq model: usage counts, stop sequences, and a clear 400 for streaming', async () => {
      const completions = `${server.url}/v1/completions`;
      const text = TEXTS[2]!;
      const expected = await pipelineAnswer(t5, text, { max_new_tokens: 12 });
      const res = await postJson(completions, { model: 'tiny/t5', prompt: text, max_tokens: 12 });
      expect(res.status, res.text).toBe(200);
      const pipe = await reference('text2text-generation', 'tiny/t5');
      const promptTokens = (pipe.tokenizer(text).input_ids.dims as number[])[1]!;
      expect(res.json).toMatchObject({ object: 'text_completion', model: 'tiny/t5', choices: [{ index: 0, text: expected, logprobs: null }] });
      expect(res.json.usage.prompt_tokens).toBe(promptTokens);
      expect(res.json.usage.completion_tokens).toBeGreaterThan(0);
      const stop = expected.split(' ')[2]!;
      const stopped = await postJson(completions, { model: 'tiny/t5', prompt: text, max_tokens: 12, stop });
      expect(stopped.json.choices[0]).toMatchObject({ text: expected.slice(0, expected.indexOf(stop)), finish_reason: 'stop' });
      const streamed = await postJson(completions, { model: 'tiny/t5', prompt: text, stream: true });
      expect(streamed.status).toBe(400);
      expect(streamed.json.error.message).toMatch(/streaming is not available for encoder-decoder/);
    });
  });

  it('refuses settings transformers.js cannot honour rather than answering some other way', async () => {
    const url = `${server.url}/models/tiny/t5`;
    expectError(await postJson(url, { inputs: 'Hello', parameters: { num_return_sequences: 2 } }), /num_return_sequences/);
    expectError(await postJson(url, { inputs: 'Hello', parameters: { generate_parameters: { num_beams: 2 } } }), /num_beams.*beam search/);
  });
});
