/** What each target name resolves to: URL, API, body and the token's source. */
import { describe, expect, it } from 'vitest';
import { loadPayload } from '../../src/bench/payloads.ts';
import { resolveTarget, type ResolveOptions } from '../../src/bench/targets.ts';

const base = 'http://127.0.0.1:8080';
const hf = (over: Partial<ResolveOptions> = {}): ResolveOptions => ({
  baseUrl: base,
  model: 'org/model',
  stream: false,
  payload: loadPayload({ task: 'text-classification' }),
  headers: {},
  env: {},
  ...over,
});
const chat = (over: Partial<ResolveOptions> = {}) => hf({ payload: loadPayload({ task: 'conversational' }), ...over });
const body = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;

describe('bench targets', () => {
  it('maps modelhost routes', () => {
    const local = resolveTarget('local', hf());
    expect(local).toMatchObject({ kind: 'local', api: 'hf', url: `${base}/models/org/model` });
    expect(local.headers).toMatchObject({ 'x-provider': 'local', 'x-use-cache': 'false', 'content-type': 'application/json' });
    expect(resolveTarget('together', hf()).url).toBe(`${base}/together/models/org/model`);
    expect(resolveTarget('together', hf({ useCache: true })).headers['x-use-cache']).toBeUndefined();

    const fastest = resolveTarget(':fastest', chat());
    expect(fastest).toMatchObject({ kind: 'policy', api: 'openai', url: `${base}/v1/chat/completions`, model: 'org/model:fastest' });
    expect(body(fastest.body).model).toBe('org/model:fastest');
    expect(body(resolveTarget('together', chat({ stream: true })).body)).toMatchObject({ model: 'org/model:together', stream: true });
    expect(() => resolveTarget(':cheapest', hf({ api: 'hf' }))).toThrow(/OpenAI routes/);
    expect(() => resolveTarget('local', hf({ model: undefined }))).toThrow(/needs a model: pass --model/);
  });

  it('maps endpoint:<name> to the dedicated endpoint routes', () => {
    expect(resolveTarget('endpoint:my-llm', hf({ model: undefined }))).toMatchObject({ kind: 'endpoint', api: 'hf', url: `${base}/endpoints/my-llm` });
    const openai = resolveTarget('mine=endpoint:my-llm', chat({ model: undefined }));
    expect(openai).toMatchObject({ name: 'mine', api: 'openai', url: `${base}/endpoints/my-llm/v1/chat/completions` });
    expect(body(openai.body).model).toBe('my-llm');
    expect(() => resolveTarget('endpoint:../x', hf())).toThrow(/endpoint name/);
  });

  it('takes tokens from the environment by host and API', () => {
    const env = { MODELHOST_TOKEN: 'mh', HF_TOKEN: 'hf', OPENAI_API_KEY: 'oa', OTHER: 'ot' };
    expect(resolveTarget('local', hf({ env })).headers.authorization).toBe('Bearer mh');
    const router = resolveTarget('https://router.huggingface.co/v1/chat/completions', chat({ env }));
    expect(router).toMatchObject({ api: 'openai', tokenEnv: 'HF_TOKEN', onModelhost: false });
    expect(router.headers.authorization).toBe('Bearer hf');
    expect(resolveTarget('https://router.huggingface.co/hf-inference/models/org/m', hf({ env })).api).toBe('hf');
    expect(resolveTarget('https://api.openai.com/v1/chat/completions', chat({ env })).tokenEnv).toBe('OPENAI_API_KEY');
    expect(resolveTarget('https://api.example.com/v1/chat/completions', chat({ env, tokenEnv: 'OTHER' })).headers.authorization).toBe('Bearer ot');
    // The modelhost server named by URL gets the modelhost token.
    expect(resolveTarget(`${base}/models/org/model`, hf({ env })).tokenEnv).toBe('MODELHOST_TOKEN');
    // A missing token for a remote host stops the run, naming the variable and not sending anything.
    expect(() => resolveTarget('https://api.openai.com/v1/chat/completions', chat())).toThrow(/OPENAI_API_KEY is not set/);
    // Loopback URLs may run without one.
    expect(resolveTarget('http://127.0.0.1:9/v1/chat/completions', chat()).headers.authorization).toBeUndefined();
  });

  it('turns a text payload into a chat message for OpenAI targets', () => {
    const t = resolveTarget('together', hf({ api: 'openai' }));
    expect(body(t.body)).toMatchObject({ model: 'org/model:together', messages: [{ role: 'user', content: expect.stringContaining('I love this product') }] });
    expect(() => loadPayload({ task: 'nope' })).toThrow(/no built-in example for task nope/);
    expect(() => loadPayload({ data: '[1]' })).toThrow(/expected a JSON object/);
  });
});
