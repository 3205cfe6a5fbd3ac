import Replicate, { validateWebhook } from 'replicate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeImagePng } from '../../src/simulate/fake-models.ts';
import { parseRouterFile } from '../../src/router/config.ts';
import { fastTimeouts, startSim } from '../helpers/router.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import type { Simulator } from '../../src/simulate/harness.ts';
import { asRequest, receiver, until, type Receiver } from './receiver.ts';

/** The real `replicate` npm client, unchanged, with baseUrl pointed at modelhost. */
let server: TestServer;
let fal: Simulator & { api: string };
let hooks: Receiver;
let replicate: Replicate;
const FLUX = 'black-forest-labs/FLUX.1-schnell';

beforeAll(async () => {
  fal = await startSim('fal-ai', { latencyMs: { mean: 5, jitter: 0 } });
  hooks = await receiver();
  const routerFile = parseRouterFile({
    routing: { retries: 0, backoffMs: 5, timeouts: { ...fastTimeouts, firstByteMs: 2000, totalMs: 8000 } },
    providers: [{ name: 'fal-ai', type: 'fal-ai', baseUrl: fal.api, options: { pollIntervalMs: 10 } }],
    models: [{ id: FLUX, task: 'text-to-image', providers: [{ provider: 'fal-ai', id: 'fal-ai/flux/schnell' }] }],
  });
  server = await startServer({ webhookAllowPrivate: true, fileTtl: 8, webhookRetryBase: 0.05 }, { routerFile });
  replicate = new Replicate({ auth: 'unused', baseUrl: `${server.url}/v1` });
});
afterAll(async () => {
  await server?.close();
  await fal?.close();
  await hooks?.close();
});

async function sync(model: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${server.url}/models/${model}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}

describe('replicate client against modelhost', () => {
  it('run on a local text model answers what the HF route answers', async () => {
    const output = await replicate.run('tiny/bert-sentiment', { input: { prompt: 'I love this movie' } });
    expect(output).toEqual(await sync('tiny/bert-sentiment', { inputs: 'I love this movie' }));
  });

  it('run on a local image model with the image as a data URI', async () => {
    const png = fakeImagePng('a red fox', 32, 32);
    const dataUri = `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
    const output = await replicate.run('tiny/vit', { input: { image: dataUri } });
    expect(output).toEqual(await sync('tiny/vit', { inputs: Buffer.from(png).toString('base64') }));
  });

  it('stream on a generation model yields the tokens of the same generation', async () => {
    const input = { prompt: 'the fox', max_new_tokens: 6, do_sample: false };
    const tokens: string[] = [];
    for await (const event of replicate.stream('tiny/gpt2', { input })) {
      if (event.event === 'output') tokens.push(String(event.data));
    }
    const [expected] = (await sync('tiny/gpt2', { inputs: 'the fox', parameters: { max_new_tokens: 6, do_sample: false } })) as { generated_text: string }[];
    expect(tokens.length).toBeGreaterThan(0);
    expect('the fox' + tokens.join('')).toBe(expected!.generated_text);
  });

  it('predictions.create + wait, with timings and metrics', async () => {
    const created = await replicate.predictions.create({ model: 'tiny/bert-sentiment', input: { prompt: 'so good' } });
    expect(['starting', 'processing', 'succeeded']).toContain(created.status);
    expect(created.urls.get).toBe(`${server.url}/v1/predictions/${created.id}`);
    const done = await replicate.wait(created, { interval: 50 });
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual(await sync('tiny/bert-sentiment', { inputs: 'so good' }));
    expect(Date.parse(done.completed_at!)).toBeGreaterThanOrEqual(Date.parse(done.started_at!));
    expect(done.metrics?.predict_time).toBeGreaterThan(0);
  });

  it('predictions.cancel stops a running generation', async () => {
    const created = await replicate.predictions.create({ model: 'tiny/gpt2', input: { prompt: 'once upon', max_new_tokens: 500 } });
    await until(async () => (await replicate.predictions.get(created.id)).status === 'processing', 10_000, 'processing');
    const canceled = await replicate.predictions.cancel(created.id);
    expect(canceled.status).toBe('canceled');
    expect(canceled.completed_at).toBeTruthy();
    // Stopped part-way: fewer tokens than it was asked for.
    expect(((canceled.output as string[] | null) ?? []).length).toBeLessThan(500);
    // It stays canceled: nothing finishes it later.
    await new Promise((r) => setTimeout(r, 300));
    expect((await replicate.predictions.get(created.id)).status).toBe('canceled');
  });

  it('paginate(predictions.list) walks every page, newest first', async () => {
    const made: string[] = [];
    for (let i = 0; i < 105; i++) made.push((await replicate.predictions.create({ model: 'tiny/bert-sentiment', input: { prompt: `page ${i}` } })).id);
    const seen: string[] = [];
    let pages = 0;
    for await (const page of replicate.paginate(() => replicate.predictions.list())) {
      pages++;
      seen.push(...page.map((p) => p.id));
    }
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of made) expect(seen).toContain(id);
    expect(seen.indexOf(made[104]!)).toBeLessThan(seen.indexOf(made[0]!));
  });

  it('validateWebhook accepts modelhost webhooks and rejects a changed body', async () => {
    const { key } = (await (await fetch(`${server.url}/v1/webhooks/default/secret`)).json()) as { key: string };
    expect(key).toMatch(/^whsec_/);
    const created = await replicate.predictions.create({ model: 'tiny/bert-sentiment', input: { prompt: 'hooked' }, webhook: hooks.url, webhook_events_filter: ['start', 'completed'] });
    await until(() => hooks.deliveries.some((d) => JSON.parse(d.body).id === created.id && JSON.parse(d.body).status === 'succeeded'), 10_000, 'the completed webhook');
    const mine = hooks.deliveries.filter((d) => JSON.parse(d.body).id === created.id);
    expect(mine.map((d) => JSON.parse(d.body).status)).toContain('processing');
    for (const d of mine) expect(await validateWebhook(asRequest(d.headers, d.body), key)).toBe(true);
    const last = mine[mine.length - 1]!;
    const changed = last.body.replace('"succeeded"', '"failed"');
    expect(await validateWebhook(asRequest(last.headers, changed), key)).toBe(false);
    // The owner sees the delivery attempts.
    const shown = (await (await fetch(`${server.url}/v1/predictions/${created.id}`)).json()) as { webhook_delivery: { state: string; attempts: { status: number }[] } };
    await until(async () => ((await (await fetch(`${server.url}/v1/predictions/${created.id}`)).json()) as typeof shown).webhook_delivery.state === 'delivered', 5_000, 'delivered');
    expect(shown.webhook_delivery.attempts.some((a) => a.status === 200)).toBe(true);
  });
});

describe('a routed text-to-image model as a prediction', () => {
  it('answers a signed output URL that serves the PNG until it expires, then 410', async () => {
    const run: unknown = await replicate.run(FLUX, { input: { prompt: 'a red fox' } });
    expect(typeof run).toBe('string');
    const output = run as string;
    expect(output).toMatch(new RegExp(`^${server.url}/v1/files/`));
    const res = await fetch(output);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const dataUri = await (await fetch(`${output}&format=data-uri`)).text();
    expect(dataUri).toBe(`data:image/png;base64,${Buffer.from(bytes).toString('base64')}`);
    // An input file can be a URL: the PNG, fetched by the prediction, classified by a local image model.
    const classified = await replicate.run('tiny/vit', { input: { image: output } });
    expect(classified).toEqual(await sync('tiny/vit', { inputs: Buffer.from(bytes).toString('base64') }));
    // A changed signature never serves it.
    expect((await fetch(output.replace(/signature=[^&]+/, 'signature=AAAA'))).status).toBe(404);
    const expires = Number(new URL(output).searchParams.get('expires'));
    await new Promise((r) => setTimeout(r, Math.max(0, expires * 1000 - Date.now()) + 200));
    expect((await fetch(output)).status).toBe(410);
  });
});
