import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { pipelineAnswer, sharedSeq2SeqChecks, type Seq2SeqCase } from './seq2seq-helpers.ts';
import { expectError, TEXTS } from './text-task-helpers.ts';

describe('translation', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  const marian: Seq2SeqCase = {
    task: 'translation',
    model: 'tiny/marian',
    key: 'translation_text',
    base: { tgt_lang: 'fr' },
    asPipelineInput: (t) => `>>fr<< ${t}`,
    endsEarly: true,
    server: () => server,
  };

  describe('tiny/marian (Marian shape, MarianTokenizer, >>xx<< target codes)', () => {
    sharedSeq2SeqChecks(marian);

    it('tgt_lang picks the target language code; a text that starts with a code keeps it', async () => {
      const url = `${server.url}/models/tiny/marian`;
      let differs = false;
      for (const text of TEXTS.slice(0, 5)) {
        const answers = new Set<string>();
        for (const lang of ['fr', 'es', 'de']) {
          const res = await postJson(url, { inputs: text, parameters: { tgt_lang: lang, src_lang: 'en', max_new_tokens: 10 } });
          expect(res.status, res.text).toBe(200);
          const expected = await pipelineAnswer({ ...marian, asPipelineInput: (t) => `>>${lang}<< ${t}` }, text, { max_new_tokens: 10 });
          expect(res.json).toEqual([{ translation_text: expected }]);
          answers.add(expected);
        }
        differs ||= answers.size > 1;
      }
      // The code reaches the model: some text comes out differently per language.
      expect(differs).toBe(true);
      const text = TEXTS[7]!;
      const coded = await postJson(url, { inputs: `>>es<< ${text}`, parameters: { max_new_tokens: 10 } });
      const named = await postJson(url, { inputs: text, parameters: { tgt_lang: 'es', max_new_tokens: 10 } });
      expect(coded.json).toEqual(named.json);
    });

    it('refuses a language the model lacks, and a multi-target model without a target', async () => {
      const url = `${server.url}/models/tiny/marian`;
      expectError(await postJson(url, { inputs: 'Hello', parameters: { tgt_lang: 'ja' } }), /parameters\.tgt_lang.*"ja".*fr, es, de/);
      expectError(await postJson(url, { inputs: 'Hello' }), /parameters\.tgt_lang.*several languages.*fr, es, de/);
      expectError(await postJson(url, { inputs: 'Hello', parameters: { src_lang: 'de', tgt_lang: 'fr' } }), /parameters\.src_lang.*"en"/);
      expectError(await postJson(url, { inputs: 'Hello', parameters: { tgt_lang: 3 } }), /parameters\.tgt_lang/);
    });
  });

  describe('tiny/t5: src_lang/tgt_lang choose the task_specific_params prefix', () => {
    const t5: Seq2SeqCase = { ...marian, model: 'tiny/t5', base: {}, asPipelineInput: (t) => t };

    it('translates with "translate English to French: " for en→fr, and with no prefix when no language is named', async () => {
      const url = `${server.url}/models/tiny/t5/pipeline/translation`;
      const text = TEXTS[0]!;
      const fr = await postJson(url, { inputs: text, parameters: { src_lang: 'en', tgt_lang: 'fr', max_new_tokens: 10 } });
      expect(fr.json).toEqual([{ translation_text: await pipelineAnswer(t5, `translate English to French: ${text}`, { max_new_tokens: 10 }) }]);
      const de = await postJson(url, { inputs: text, parameters: { tgt_lang: 'de', max_new_tokens: 10 } });
      expect(de.json).toEqual([{ translation_text: await pipelineAnswer(t5, `translate English to German: ${text}`, { max_new_tokens: 10 }) }]);
      const plain = await postJson(url, { inputs: text, parameters: { max_new_tokens: 10 } });
      expect(plain.json).toEqual([{ translation_text: await pipelineAnswer(t5, text, { max_new_tokens: 10 }) }]);
      expectError(await postJson(url, { inputs: text, parameters: { src_lang: 'en', tgt_lang: 'ja' } }), /no translation en→ja.*en→fr, en→de/);
      expectError(await postJson(url, { inputs: text, parameters: { src_lang: 'en' } }), /name both src_lang and tgt_lang/);
    });
  });

  it('a model with one fixed direction ignores src_lang/tgt_lang, as the Python pipeline does', async () => {
    const url = `${server.url}/models/tiny/bart/pipeline/translation`;
    const plain = await postJson(url, { inputs: TEXTS[1], parameters: { max_new_tokens: 6 } });
    const named = await postJson(url, { inputs: TEXTS[1], parameters: { max_new_tokens: 6, src_lang: 'en', tgt_lang: 'fr' } });
    expect(plain.status).toBe(200);
    expect(named.json).toEqual(plain.json);
  });

  it('its Space answers through the Gradio API, the target language as the second input', async () => {
    const res = await postJson(`${server.url}/spaces/tiny/marian/gradio_api/run/predict`, { data: [TEXTS[3], 'es'] });
    expect(res.status, res.text).toBe(200);
    const direct = await postJson(`${server.url}/models/tiny/marian`, { inputs: TEXTS[3], parameters: { tgt_lang: 'es' } });
    expect(res.json.data).toEqual([direct.json[0].translation_text]);
    const missing = await postJson(`${server.url}/spaces/tiny/marian/gradio_api/run/predict`, { data: [TEXTS[3], ''] });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.json)).toMatch(/tgt_lang/);
  });

  it('@huggingface/inference translation returns what the server answers', async () => {
    const client = new InferenceClient('hf_test');
    const endpointUrl = `${server.url}/models/tiny/marian`;
    const parameters = { tgt_lang: 'fr', generate_parameters: { max_new_tokens: 9 } };
    const raw = await postJson(endpointUrl, { inputs: TEXTS[3], parameters });
    expect(raw.status).toBe(200);
    expect(await client.translation({ endpointUrl, inputs: TEXTS[3]!, parameters })).toEqual(raw.json[0]);
  });
});
