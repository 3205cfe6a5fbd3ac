/**
 * The real `@gradio/client` (pinned at 2.7.0 in package.json) against a Space's Gradio-compatible API: a text
 * task (positional and keyword calls), a streaming generation (intermediate values, then the final one), an
 * image task (handle_file upload) and an audio task (Blob upload), the error path, plus the curl-style pair.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, handle_file } from '@gradio/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

const gradioVersion = JSON.parse(readFileSync(path.resolve('node_modules/@gradio/client/package.json'), 'utf8')).version as string;

describe(`@gradio/client ${gradioVersion}`, () => {
  test('the client version is the pinned one', () => {
    const pinned = JSON.parse(readFileSync(path.resolve('package.json'), 'utf8')).devDependencies['@gradio/client'];
    expect(pinned).toBe(gradioVersion);
  });

  test('text-classification: predict with positional and keyword arguments returns a Label', async () => {
    const app = await Client.connect(`${server.url}/spaces/tiny/bert-sentiment`);
    const api = await app.view_api();
    expect(Object.keys(api.named_endpoints)).toEqual(['/predict']);
    const result = await app.predict('/predict', ['I like you. I love you.']);
    const expected = (await postJson(`${server.url}/models/tiny/bert-sentiment`, { inputs: 'I like you. I love you.' })).json[0] as { label: string; score: number }[];
    expect(result.data).toEqual([{ label: expected[0]!.label, confidences: expected.map((e) => ({ label: e.label, confidence: e.score })) }]);
    const keyword = await app.predict('/predict', { text: 'I like you. I love you.' });
    expect(keyword.data).toEqual(result.data);
  });

  test('question-answering: two inputs, two outputs', async () => {
    const app = await Client.connect(`${server.url}/spaces/tiny/bert-qa`);
    const result = await app.predict('/predict', ['Where do I live?', 'My name is Wolfgang and I live in Berlin']);
    const expected = (await postJson(`${server.url}/models/tiny/bert-qa`, { inputs: { question: 'Where do I live?', context: 'My name is Wolfgang and I live in Berlin' } })).json as { answer: string; score: number };
    expect(result.data).toEqual([expected.answer, { label: expected.answer, confidences: [{ label: expected.answer, confidence: expected.score }] }]);
  });

  test('text-generation streams: intermediate values grow, the final value is the whole text', async () => {
    const app = await Client.connect(`${server.url}/spaces/tiny/gpt2`);
    const job = app.submit('/predict', ['Once upon a time,']);
    const values: string[] = [];
    let completed = false;
    for await (const message of job) {
      if (message.type === 'data') values.push((message.data as string[])[0]!);
      if (message.type === 'status' && message.stage === 'complete') completed = true;
      if (message.type === 'status' && message.stage === 'error') throw new Error(message.message);
      if (completed) break;
    }
    const expected = (await postJson(`${server.url}/models/tiny/gpt2`, { inputs: 'Once upon a time,' })).json[0].generated_text as string;
    expect(values.length).toBeGreaterThan(2);
    expect(values.at(-1)).toBe(expected);
    // Each intermediate value extends the one before (the server sends "append" diffs after the first).
    for (let i = 1; i < values.length; i++) expect(values[i]!.startsWith(values[i - 1]!)).toBe(true);
    expect(values[0]!.length).toBeLessThan(expected.length);
  });

  test('image-classification: handle_file uploads the image; the Label matches the HTTP API', async () => {
    const file = path.resolve('src/ui/samples/image.png');
    const app = await Client.connect(`${server.url}/spaces/tiny/vit`);
    const result = await app.predict('/predict', [handle_file(file)]);
    const expected = (await (await fetch(`${server.url}/models/tiny/vit`, { method: 'POST', body: readFileSync(file), headers: { 'content-type': 'image/png' } })).json()) as { label: string; score: number }[];
    expect((result.data as { label: string }[])[0]!.label).toBe(expected[0]!.label);
    expect((result.data as { confidences: unknown[] }[])[0]!.confidences).toEqual(expected.map((e) => ({ label: e.label, confidence: e.score })));
  });

  test('voice-activity-detection: a Blob is uploaded and the segments come back', async () => {
    const wav = readFileSync(path.resolve('src/ui/samples/speech.wav'));
    const app = await Client.connect(`${server.url}/spaces/snakers4/silero-vad`);
    const result = await app.predict('/predict', [new Blob([wav], { type: 'audio/wav' })]);
    const expected = await (await fetch(`${server.url}/models/snakers4/silero-vad`, { method: 'POST', body: wav, headers: { 'content-type': 'audio/wav' } })).json();
    expect(result.data).toEqual([expected]);
  });

  test('audio-classification: a WebM/Opus Blob (what a browser records) gives the Label the HTTP API gives', async () => {
    const webm = readFileSync(path.resolve('tests/fixtures/audio/speech-48k-mono-live.webm'));
    const app = await Client.connect(`${server.url}/spaces/tiny/ast`);
    const result = await app.predict('/predict', [new Blob([webm], { type: 'audio/webm;codecs=opus' })]);
    const expected = (await (await fetch(`${server.url}/models/tiny/ast`, { method: 'POST', body: webm, headers: { 'content-type': 'audio/webm;codecs=opus' } })).json()) as { label: string; score: number }[];
    expect(expected).toHaveLength(5);
    expect((result.data as { label: string }[])[0]!.label).toBe(expected[0]!.label);
    expect((result.data as { confidences: unknown[] }[])[0]!.confidences).toEqual(expected.map((e) => ({ label: e.label, confidence: e.score })));
  });

  test('a model error reaches the caller with the server text', async () => {
    const app = await Client.connect(`${server.url}/spaces/tiny/bert-mlm`);
    const error = await app.predict('/predict', ['no mask here']).then(
      () => undefined,
      (e: unknown) => e as { message?: string },
    );
    expect(error?.message).toMatch(/must contain the mask token \[MASK\]/);
  });

  test('the curl pair: POST call/predict, then the event stream ends with "complete"', async () => {
    const base = `${server.url}/spaces/tiny/bert-sentiment/gradio_api/call/predict`;
    const started = await postJson(base, { data: ['I like you. I love you.'] });
    expect(started.status).toBe(200);
    const stream = await (await fetch(`${base}/${started.json.event_id}`)).text();
    const complete = /event: complete\ndata: (.*)\n/.exec(stream);
    expect(complete).not.toBeNull();
    const data = JSON.parse(complete![1]!) as { label: string }[];
    const expected = (await postJson(`${server.url}/models/tiny/bert-sentiment`, { inputs: 'I like you. I love you.' })).json[0] as { label: string }[];
    expect(data[0]!.label).toBe(expected[0]!.label);
    // Generation: "generating" events carry full values, then "complete".
    const gen = await postJson(`${server.url}/spaces/tiny/gpt2/gradio_api/call/predict`, { data: ['Once upon a time,'] });
    const genStream = await (await fetch(`${server.url}/spaces/tiny/gpt2/gradio_api/call/predict/${gen.json.event_id}`)).text();
    const generating = [...genStream.matchAll(/event: generating\ndata: (.*)\n/g)].map((m) => (JSON.parse(m[1]!) as string[])[0]!);
    expect(generating.length).toBeGreaterThan(1);
    expect(generating.every((g) => g.startsWith('Once upon a time,'))).toBe(true);
  });

  test('bad calls get clear errors: unknown endpoint, missing data, a URL file from elsewhere', async () => {
    const base = `${server.url}/spaces/tiny/bert-sentiment/gradio_api`;
    const unknown = await postJson(`${base}/run/nope`, { data: ['x'] });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/\/predict/);
    const noData = await postJson(`${base}/run/predict`, {});
    expect(noData.status).toBe(400);
    expect(noData.json.error).toMatch(/data/);
    const remote = await postJson(`${server.url}/spaces/tiny/vit/gradio_api/run/predict`, { data: [{ path: 'https://example.com/cat.png', url: 'https://example.com/cat.png', meta: { _type: 'gradio.FileData' } }] });
    expect(remote.status).toBe(400);
    expect(remote.json.error).toMatch(/does not fetch URLs/);
    const config = await (await fetch(`${server.url}/spaces/nobody/nothing/config`)).json();
    expect(config.error).toMatch(/nobody\/nothing/);
  });
});
