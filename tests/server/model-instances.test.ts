import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { png } from '../tasks/vision-helpers.ts';

describe('--model-instances', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ modelInstances: 2, preload: ['tiny/yolos'] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is read from MODELHOST_MODEL_INSTANCES and refused when not a positive count', () => {
    expect(loadConfig({}, { MODELHOST_MODEL_INSTANCES: '3' }).modelInstances).toBe(3);
    expect(loadConfig({}, {}).modelInstances).toBe(1);
    expect(() => loadConfig({}, { MODELHOST_MODEL_INSTANCES: '0' })).toThrow(/modelInstances|MODELHOST_MODEL_INSTANCES/);
  });

  it('loads the model twice, says so in /ready, and answers concurrent requests as one request alone', async () => {
    let ready: { loaded: { id: string; instances?: number }[] } = { loaded: [] };
    for (let i = 0; i < 100; i++) {
      ready = (await (await fetch(`${server.url}/ready`)).json()) as typeof ready;
      if (ready.loaded.find((m) => m.id === 'tiny/yolos')?.instances === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready.loaded.find((m) => m.id === 'tiny/yolos')?.instances).toBe(2);
    const image = await png(96, 64, 5);
    const post = async () => {
      const res = await fetch(`${server.url}/models/tiny/yolos`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image });
      expect(res.status).toBe(200);
      return res.json();
    };
    const alone = await post();
    const together = await Promise.all(Array.from({ length: 12 }, post));
    for (const answer of together) expect(answer).toEqual(alone);
  });
});
