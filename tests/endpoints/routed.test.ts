import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRouterFile } from '../../src/router/config.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { startSim } from '../helpers/router.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { api, call, FAST_SCALING } from './helpers.ts';

/** Dedicated endpoints over hosted providers: the model comes from the providers file, served through the router. */
type Sim = Simulator & { api: string };
let s: TestServer;
let vllm: Sim;
let hf: Sim;
let owner: string;

beforeAll(async () => {
  vllm = await startSim('openai-compatible');
  hf = await startSim('hf-inference');
  s = await startServer(
    {},
    {
      endpointScaling: FAST_SCALING,
      routerFile: parseRouterFile({
        providers: [
          { name: 'vllm', type: 'openai-compatible', baseUrl: vllm.api },
          { name: 'hf-inference', type: 'hf-inference', baseUrl: hf.api },
        ],
        models: [
          { id: 'meta-llama/Llama-3.1-8B-Instruct', task: 'conversational', providers: [{ provider: 'vllm', id: 'llama-3.1-8b' }] },
          { id: 'distilbert/sst2-sentiment', task: 'text-classification', providers: [{ provider: 'hf-inference' }] },
        ],
      }),
    },
  );
  owner = (await s.composed.deps.access!.tokens.create({ name: 'owner', owner: 'team', scopes: ['inference', 'endpoints'] })).token;
});
afterAll(async () => {
  await s?.close();
  await vllm?.close();
  await hf?.close();
});

describe('endpoints over the router', () => {
  it('a private chat endpoint on a provider serves the openai SDK and keeps its lifecycle', async () => {
    const a = api(s, 'team', owner);
    const created = await a.create({ name: 'team-chat', type: 'private', model: { repository: 'meta-llama/Llama-3.1-8B-Instruct', provider: 'vllm' } });
    expect(created.status).toBe(200);
    expect(created.json.model.task).toBe('conversational');
    const running = await a.until('team-chat', 'running');
    expect(running.status.message).toMatch(/provider vllm/);
    const client = new OpenAI({ apiKey: owner, baseURL: `${s.url}/endpoints/team-chat/v1` });
    const chat = await client.chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'hello there' }] });
    expect(chat.choices[0]!.message.content).toBeTruthy();
    const stream = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'stream please' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(vllm.sim.stats.requests).toBeGreaterThanOrEqual(2);
    // Private: other callers are refused before any provider is paid.
    const before = vllm.sim.stats.requests;
    const anonymous = await postJson(`${s.url}/endpoints/team-chat/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
    expect(anonymous.status).toBe(401);
    expect(vllm.sim.stats.requests).toBe(before);
    // Paused: refused; resumed: serves again.
    await a.action('team-chat', 'pause');
    await a.until('team-chat', 'paused');
    const paused = await postJson(`${s.url}/endpoints/team-chat/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }, { authorization: `Bearer ${owner}` });
    expect(paused.status).toBe(503);
    expect(paused.json.error.message ?? paused.json.error).toMatch(/paused/);
    await a.action('team-chat', 'resume');
    await a.until('team-chat', 'running');
    expect((await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'back' }] })).choices).toHaveLength(1);
  });

  it('a task endpoint on a provider answers the task payload, wakes from zero at once, and names the provider', async () => {
    const a = api(s, 'team', owner);
    await a.create({ name: 'hosted-cls', type: 'public', model: { repository: 'distilbert/sst2-sentiment' }, compute: { scaling: { minReplica: 0, maxReplica: 1 } } });
    await a.until('hosted-cls', 'running');
    const r = await call(s, 'hosted-cls', { inputs: 'great film' });
    expect(r.status).toBe(200);
    // The same answer as the serverless route through the router (the simulator's classification is deterministic).
    expect(r.json).toEqual((await postJson(`${s.url}/models/distilbert/sst2-sentiment`, { inputs: 'great film' }, { authorization: `Bearer ${owner}` })).json);
    expect(JSON.stringify(r.json)).toContain('"label"');
    expect(r.headers.get('x-modelhost-provider')).toBe('hf-inference');
    expect(r.headers.get('x-modelhost-endpoint')).toBe('hosted-cls');
    await a.action('hosted-cls', 'scale-to-zero');
    await a.until('hosted-cls', 'scaledToZero');
    expect((await call(s, 'hosted-cls', { inputs: 'great film' })).status).toBe(200);
    expect((await a.get('hosted-cls')).json.status.state).toBe('running');
  });

  it('rejects a provider the providers file does not map the model to, and unknown models', async () => {
    const a = api(s, 'team', owner);
    const wrong = await a.create({ name: 'wrong', model: { repository: 'meta-llama/Llama-3.1-8B-Instruct', provider: 'hf-inference' } });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatch(/mapped to vllm/);
    const unknown = await a.create({ name: 'unknown', model: { repository: 'no/such-model' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error).toMatch(/nor mapped to a provider/);
  });
});
