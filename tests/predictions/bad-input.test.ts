import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.ts';

/** Malformed submissions: each a 4xx in Replicate's problem shape, none stored. Private webhooks are refused here. */
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ bodyLimitMb: 0.05 });
});
afterAll(async () => server?.close());

type Case = { name: string; path?: string; body: string; status?: number };

function cases(): Case[] {
  const out: Case[] = [];
  const model = '/v1/models/tiny/bert-sentiment/predictions';
  const json = (v: unknown) => JSON.stringify(v);
  const add = (name: string, body: unknown, path = model, status?: number) => out.push({ name, path, body: typeof body === 'string' ? body : json(body), ...(status ? { status } : {}) });
  for (let i = 0; i < 20; i++) add(`unknown model ${i}`, { input: { prompt: 'x' } }, `/v1/models/nobody/model-${i}/predictions`, 404);
  for (let i = 0; i < 10; i++) add(`unknown version ${i}`, { version: `nobody/none-${i}`, input: { prompt: 'x' } }, '/v1/predictions', 404);
  for (const v of ['', 'not a model', 'a/b/c', ':x', 'x'.repeat(301)]) add(`bad version ${v.slice(0, 10)}`, { version: v, input: { prompt: 'x' } }, '/v1/predictions', 422);
  add('no model at all', { input: { prompt: 'x' } }, '/v1/predictions', 422);
  for (const input of ['text', 42, [1, 2], null, true]) add(`input ${JSON.stringify(input)}`, { input }, model, 422);
  add('missing input', { webhook_events_filter: ['completed'] }, model, 422);
  for (const prompt of [42, ['a'], { a: 1 }, '', null, true]) add(`prompt ${JSON.stringify(prompt)}`, { input: { prompt } }, model, 422);
  add('no prompt', { input: { temperature: 1 } }, model, 422);
  add('parameters not an object', { input: { inputs: 'x', parameters: [1] } }, model, 422);
  add('inputs null', { input: { inputs: null } }, model, 422);
  for (const image of [42, 'not a url', 'ftp://example.com/a.png', 'data:image/png;base64,***', 'data:,plain', 'javascript:alert(1)']) {
    add(`image ${String(image).slice(0, 12)}`, { input: { image } }, '/v1/models/tiny/vit/predictions', 422);
  }
  add('no image', { input: { prompt: 'x' } }, '/v1/models/tiny/vit/predictions', 422);
  for (const webhook of ['not a url', 'ftp://example.com/hook', 'file:///etc/passwd', 'https://user:pw@example.com/hook', 42, 'x'.repeat(3000)]) {
    add(`webhook ${String(webhook).slice(0, 12)}`, { input: { prompt: 'x' }, webhook }, model, 422);
  }
  for (const host of ['127.0.0.1', '10.1.2.3', '192.168.0.10', '172.16.5.4', '169.254.169.254', '[::1]', 'localhost', '0.0.0.0', '[fd00::1]', '100.64.0.1', '[::ffff:127.0.0.1]']) {
    add(`private webhook ${host}`, { input: { prompt: 'x' }, webhook: `http://${host}:9/hook` }, model, 422);
  }
  for (const filter of [['everything'], 'completed', [1], ['start', 'start', 'start', 'start', 'start']]) add(`filter ${JSON.stringify(filter)}`, { input: { prompt: 'x' }, webhook: 'https://example.com/h', webhook_events_filter: filter }, model, 422);
  for (const stream of ['yes', 1, null]) add(`stream ${JSON.stringify(stream)}`, { input: { prompt: 'x' }, stream }, model, 422);
  for (const body of ['', '{', 'not json', '[]', '"text"', '42', 'null', '{"input": }']) add(`body ${body.slice(0, 10)}`, body, model);
  for (let i = 0; i < 5; i++) add(`oversized ${i}`, { input: { prompt: 'x'.repeat(60_000 + i) } }, model, 413);
  for (let i = 0; i < 5; i++) add(`unknown deployment ${i}`, { input: { prompt: 'x' } }, `/v1/deployments/admin/none-${i}/predictions`, 404);
  // Fill to 200 with variations of the kinds above.
  let i = 0;
  while (out.length < 200) {
    const k = i++ % 4;
    if (k === 0) add(`unknown model extra ${i}`, { input: { prompt: 'x' } }, `/v1/models/zz/extra-${i}/predictions`, 404);
    else if (k === 1) add(`prompt type extra ${i}`, { input: { prompt: i } }, model, 422);
    else if (k === 2) add(`private webhook extra ${i}`, { input: { prompt: 'x' }, webhook: `http://127.0.0.${(i % 250) + 1}/h` }, model, 422);
    else add(`bad input type extra ${i}`, { input: [i] }, model, 422);
  }
  return out;
}

describe('malformed submissions', () => {
  it('answers each of 200 with a 4xx problem document and creates no prediction', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(200);
    for (const c of all) {
      const res = await fetch(server.url + c.path!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: c.body });
      const text = await res.text();
      expect(res.status, `${c.name}: ${text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, c.name).toBeLessThan(500);
      if (c.status) expect(res.status, `${c.name}: ${text}`).toBe(c.status);
      expect(res.headers.get('content-type'), c.name).toMatch(/^application\/problem\+json/);
      const body = JSON.parse(text) as { title: string; detail: string; status: number };
      expect(body.status, c.name).toBe(res.status);
      expect(typeof body.title).toBe('string');
      expect(body.detail.length, c.name).toBeGreaterThan(0);
      expect(text, c.name).not.toMatch(/at .+\.ts:\d+/);
    }
    const list = (await (await fetch(`${server.url}/v1/predictions`)).json()) as { results: unknown[] };
    expect(list.results).toEqual([]);
  });
});
