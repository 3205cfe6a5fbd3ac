import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, type TestServer } from '../helpers/server.ts';
import { api, call, startEndpointServer } from '../endpoints/helpers.ts';

/** `POST /v1/deployments/{owner}/{name}/predictions` runs on the dedicated endpoint `{name}` of namespace `{owner}`. */
let s: TestServer;
beforeAll(async () => {
  s = await startEndpointServer();
  const created = await api(s).create({
    name: 'pred-sentiment',
    type: 'public',
    model: { repository: 'tiny/bert-sentiment' },
    compute: { scaling: { minReplica: 1, maxReplica: 1 } },
  });
  expect(created.status).toBe(200);
  await api(s).until('pred-sentiment', 'running');
});
afterAll(async () => s?.close());

const requestsServed = async () => (await api(s).metrics('pred-sentiment')).json.requests.total as number;

describe('predictions on a deployment (a dedicated endpoint)', () => {
  it('runs on the endpoint and answers what a direct call of the endpoint answers', async () => {
    const direct = await call(s, 'pred-sentiment', { inputs: 'I really love this film' });
    expect(direct.status).toBe(200);
    const before = await requestsServed();

    const made = await postJson(`${s.url}/v1/deployments/admin/pred-sentiment/predictions`, { input: { prompt: 'I really love this film' } }, { prefer: 'wait=20' });
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ status: 'succeeded', deployment: 'pred-sentiment', model: 'tiny/bert-sentiment' });
    expect(made.json.output).toEqual(direct.json);
    // The endpoint's own replica served it, not the serverless route of the same model.
    expect(await requestsServed()).toBe(before + 1);
    expect(made.json.logs).toContain('running on dedicated endpoint pred-sentiment (tiny/bert-sentiment)');
    expect(made.json.logs).toContain('endpoint:pred-sentiment answered in');

    // Its one usage record (the only one since it was created) names the endpoint as the provider.
    const usage = s.composed.deps.access!.usage;
    const since = { by: ['provider' as const], from: new Date(made.json.created_at as string) };
    await expect.poll(async () => (await usage.aggregate(since)).map((r) => [r.provider, r.requests])).toEqual([['endpoint:pred-sentiment', 1]]);
  });

  it('answers 404 in Replicate problem shape for an unknown deployment, and creates nothing', async () => {
    const listBefore = ((await (await fetch(`${s.url}/v1/predictions`)).json()) as { results: unknown[] }).results.length;
    for (const path of ['/v1/deployments/admin/no-such-endpoint/predictions', '/v1/deployments/someone-else/pred-sentiment/predictions']) {
      const res = await postJson(`${s.url}${path}`, { input: { prompt: 'x' } });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
      expect(res.json, path).toMatchObject({ status: 404, title: expect.any(String), detail: expect.stringContaining('No deployment') });
    }
    const listAfter = ((await (await fetch(`${s.url}/v1/predictions`)).json()) as { results: unknown[] }).results.length;
    expect(listAfter).toBe(listBefore);
  });
});
