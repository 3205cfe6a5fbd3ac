import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { InferenceClient } from '@huggingface/inference';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { postJson, type TestServer } from '../helpers/server.ts';
import { api, startEndpointServer } from './helpers.ts';
import { parseBenchRun } from '../../src/bench/result.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
let s: TestServer;

/** The CLI runs as its own process (the server lives in this one, so it must not block). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'endpoints', ...args, '--url', s.url], { timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  s = await startEndpointServer();
});
afterAll(async () => {
  await s?.close();
});

describe('endpoint clients', () => {
  it('the CLI creates with --wait (showing progress), lists, gets, updates, shows logs and deletes', async () => {
    const created = await cli(['create', 'cli-ner', '--model', 'tiny/bert-ner', '--type', 'public', '--max-replica', '2', '--wait']);
    expect(created.code).toBe(0);
    expect(created.stderr).toMatch(/initializing \(0\/1 replicas ready\)/);
    expect(created.stderr).toMatch(/running \(1\/1 replicas ready\)/);
    expect(created.stdout).toMatch(/cli-ner \(public\)\s+running\s+1\/1 replicas ready/);
    expect(created.stdout).toContain(`url     ${s.composed.deps.config.publicUrl}/endpoints/cli-ner`);
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/cli-ner\s+running\s+1\/1\s+public\s+tiny\/bert-ner/);
    const json = JSON.parse((await cli(['get', 'cli-ner', '--json'])).stdout);
    expect(json.compute.scaling.maxReplica).toBe(2);
    const updated = await cli(['update', 'cli-ner', '--threads', '2', '--wait']);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(/2 thread\(s\)/);
    expect((await cli(['logs', 'cli-ner', '--tail', '50'])).stdout).toMatch(/update: replica cli-ner-2 replaces cli-ner-1/);
    const again = await cli(['resume', 'cli-ner']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already running');
    const bad = await cli(['create', 'x', '--model', 'tiny/bert-ner', '--min-replica', 'two']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--min-replica: expected a number/);
    expect((await cli(['delete', 'cli-ner'])).stdout).toContain('deleted cli-ner');
    expect((await cli(['list'])).stdout).toMatch(/No endpoints yet/);
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/Examples:/);
    expect((await cli(['create', '--help'])).stdout).toMatch(/--scale-to-zero-timeout <minutes>/);
  });

  it('@huggingface/inference reaches an endpoint by its URL, unchanged', async () => {
    const a = api(s);
    await a.create({ name: 'hf-client', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    const running = await a.until('hf-client', 'running');
    const client = new InferenceClient('hf_unused').endpoint(`${s.url}/endpoints/hf-client`);
    const out = await client.textClassification({ inputs: 'a fine day' });
    const raw = await postJson(`${s.url}/endpoints/hf-client`, { inputs: 'a fine day' });
    expect(out).toEqual(raw.json[0]);
    expect(running.status.url).toContain('/endpoints/hf-client');
  });

  it('modelhost bench measures an endpoint by name (endpoint:<name>)', async () => {
    const a = api(s);
    await a.create({ name: 'benched', type: 'public', model: { repository: 'tiny/bert-sentiment' } });
    await a.until('benched', 'running');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [BIN, 'bench', 'endpoint:benched', '--base-url', s.url, '-n', '12', '-c', '3', '--json', '-', '--no-progress'],
      { timeout: 90_000 },
    );
    const run = parseBenchRun(JSON.parse(stdout));
    const [target] = run.targets;
    expect(target!.requests).toMatchObject({ sent: 12, ok: 12, failed: 0 });
    expect(target!.url).toBe(`${s.url}/endpoints/benched`);
    expect((await a.metrics('benched')).json.requests.total).toBeGreaterThanOrEqual(12);
  });

  it('an endpoint configured with route.port also answers on its own port', async () => {
    const port = await freePort();
    const a = api(s);
    await a.create({ name: 'own-port', type: 'public', model: { repository: 'tiny/minilm-embed' }, route: { port } });
    await a.until('own-port', 'running');
    const viaPath = await postJson(`${s.url}/endpoints/own-port`, { inputs: 'embed me' });
    const viaPort = await postJson(`http://127.0.0.1:${port}/`, { inputs: 'embed me' });
    expect(viaPort.status).toBe(200);
    expect(viaPort.json).toEqual(viaPath.json);
    const embeddings = await postJson(`http://127.0.0.1:${port}/v1/embeddings`, { input: ['a', 'b'] });
    expect(embeddings.json.data).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    await a.remove('own-port');
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});
