import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, reference } from '../helpers/reference.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

/**
 * The JS client without endpointUrl, as it talks to Hugging Face's router: its fetch is pointed at this server,
 * so it asks the Hub route for the model's provider mapping, then calls /hf-inference/models/{id}[/pipeline/{task}].
 */
describe('@huggingface/inference in router mode (provider hf-inference)', () => {
  let server: TestServer;
  let client: InferenceClient;
  const seen: string[] = [];
  beforeAll(async () => {
    server = await startServer();
    const local = (url: string) => url.replace('https://router.huggingface.co', server.url).replace('https://huggingface.co', server.url);
    const rewrite: typeof fetch = (input, init) => {
      const url = local(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      seen.push(url.slice(server.url.length));
      return fetch(url, init);
    };
    client = new InferenceClient('hf_local_test', { fetch: rewrite });
  });
  afterAll(() => server.close());

  it('finds the model through the Hub route and posts to the hf-inference route', async () => {
    const out = await client.textClassification({ model: 'tiny/bert-sentiment', inputs: 'I love this place' });
    const direct = await postJson(`${server.url}/models/tiny/bert-sentiment`, { inputs: 'I love this place' });
    expect(out).toEqual(direct.json[0]);
    expect(seen).toContain('/api/models/tiny/bert-sentiment?expand[]=inferenceProviderMapping');
    expect(seen).toContain('/hf-inference/models/tiny/bert-sentiment');
  });

  it('reaches the /pipeline/{task} route for embeddings', async () => {
    const out = await client.featureExtraction({ model: 'tiny/minilm-embed', inputs: 'hello there' });
    const pipe = await reference('feature-extraction', 'tiny/minilm-embed');
    const ref = ((await pipe('hello there', { pooling: 'mean' })) as { tolist(): number[][] }).tolist()[0];
    expectClose(out, ref, 1e-4);
    expect(seen).toContain('/hf-inference/models/tiny/minilm-embed/pipeline/feature-extraction');
  });

  it('reports an unknown model with the server message', async () => {
    const error = await client.textClassification({ model: 'nobody/nothing', inputs: 'hi' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/nobody\/nothing not found/);
  });
});
