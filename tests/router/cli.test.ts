import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRouterFile } from '../../src/router/config.ts';
import { fakeCompletionTokens } from '../../src/simulate/fake-models.ts';
import { REPO_ROOT, TEST_MODELS_DIR } from '../helpers/paths.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
const children: ChildProcess[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGTERM')));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(url: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

describe('modelhost simulate and serve --providers', () => {
  it('explains simulate and --providers in --help, and refuses an unknown provider or a bad plan', () => {
    const help = spawnSync(process.execPath, [BIN, 'simulate', '--help'], { encoding: 'utf8' });
    for (const text of ['--plan', '--port', 'replicate', 'fal-ai', 'wavespeed', 'openai-compatible', 'hf-inference', 'Examples']) expect(help.stdout).toContain(text);
    expect(spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' }).stdout).toContain('--providers');
    const unknown = spawnSync(process.execPath, [BIN, 'simulate', 'nowhere'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown provider "nowhere"/);
    const bad = spawnSync(process.execPath, [BIN, 'simulate', 'replicate', '--plan', '{"errorRate": 3}'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/errorRate/);
  });

  it('the example providers file is valid', () => {
    const file = loadRouterFile(path.join(REPO_ROOT, 'examples', 'providers.yaml'));
    expect(file.providers.map((p) => p.type).sort()).toEqual(['fal-ai', 'hf-inference', 'openai-compatible', 'replicate', 'wavespeed']);
  });

  it('a simulator and a server started from the command line route a chat call end to end', async () => {
    const simPort = await freePort();
    const sim = spawn(process.execPath, [BIN, 'simulate', 'openai-compatible', '--port', String(simPort), '--plan', '{"latencyMs":{"mean":1}}'], { stdio: 'ignore' });
    children.push(sim);
    await until(`http://127.0.0.1:${simPort}/__sim/plan`);
    const dir = mkdtempSync(path.join(tmpdir(), 'mh-providers-'));
    const file = path.join(dir, 'providers.json');
    writeFileSync(
      file,
      JSON.stringify({
        providers: [{ name: 'sim', type: 'openai-compatible', baseUrl: `http://127.0.0.1:${simPort}/v1` }],
        models: [{ id: 'demo/chat', task: 'conversational', providers: [{ provider: 'sim' }] }],
      }),
    );
    const port = await freePort();
    const server = spawn(process.execPath, [BIN, 'serve', '--models-dir', TEST_MODELS_DIR, '--data-dir', dir, '--port', String(port), '--providers', file, '--log-level', 'warn'], {
      stdio: 'ignore',
    });
    children.push(server);
    await until(`http://127.0.0.1:${port}/health`);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo/chat', messages: [{ role: 'user', content: 'from the cli' }], max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelhost-provider')).toBe('sim');
    expect(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe(
      fakeCompletionTokens('from the cli', 4).join(''),
    );
  }, 60_000);

  it('a broken providers file stops the server with every problem named', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mh-providers-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'providers:\n  - name: x\n    type: nope\n    baseUrl: nowhere\n');
    const res = spawnSync(process.execPath, [BIN, 'serve', '--models-dir', TEST_MODELS_DIR, '--data-dir', dir, '--port', '0', '--providers', file], { encoding: 'utf8', timeout: 30_000 });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/providers\.0\.type/);
    expect(res.stderr).toMatch(/providers\.0\.baseUrl/);
  });
});
