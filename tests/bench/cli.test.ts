/**
 * `modelhost bench` as a user runs it: the help, a run with no configuration against a server over the local tiny
 * models, tokens that never show, and `bench compare` / `bench report` on the results.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCommand } from '../../src/cli/bench.ts';
import { benchRunSchema, parseBenchRun } from '../../src/bench/result.ts';
import { listen, type Simulator } from '../../src/simulate/harness.ts';
import { simulators } from '../../src/simulate/index.ts';
import { REPO_ROOT } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');

/** Runs the CLI as its own process (so the server in this process answers it), with only the given environment. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'bench', ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('modelhost bench (CLI)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help explains every flag and shows each in an example', () => {
    const cmd = benchCommand();
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.exitOverride();
    try {
      cmd.parse(['--help'], { from: 'user' });
    } catch {
      // commander exits after help
    }
    const examples = text.slice(text.indexOf('Examples:'));
    expect(examples.length).toBeGreaterThan(200);
    for (const option of cmd.options) {
      const long = option.long!;
      expect(text, long).toContain(long);
      // The description says what it does (not just the flag).
      expect(option.description.length, long).toBeGreaterThan(15);
      const forms = [long, long.replace(/^--no-/, '--'), option.short].filter(Boolean) as string[];
      expect(forms.some((f) => new RegExp(`\\s${f}(\\s|$)`, 'm').test(examples)), `${long} in an example`).toBe(true);
    }
    for (const target of ['local', ':fastest', ':cheapest', 'endpoint:<name>', 'HF_TOKEN', 'OPENAI_API_KEY', 'MODELHOST_TOKEN', 'coordinated omission']) expect(text).toContain(target);
  });

  it('runs against the local tiny models with no configuration and writes JSON, CSV and HTML', async () => {
    const json = path.join(dir, 'a.json');
    const csv = path.join(dir, 'a.csv');
    const html = path.join(dir, 'a.html');
    const res = await cli(['--base-url', server.url, '--json', json, '--csv', csv, '--html', html, '--no-progress']);
    expect(res.code, res.stderr + res.stdout).toBe(0);
    expect(res.stdout).toMatch(/^local\s+20\/20\s/m);
    const run = parseBenchRun(JSON.parse(readFileSync(json, 'utf8')));
    expect(run.settings).toMatchObject({ requests: 20, concurrency: 1, rate: null, loadModel: 'closed', payloadSource: 'example:text-classification', useCache: false });
    expect(run.machine.cpus).toBe(os.cpus().length);
    expect(run.versions.node).toBe(process.version);
    expect(run.versions.hdrHistogram).toMatch(/^\d+\.\d+/);
    const t = run.targets[0]!;
    expect(t).toMatchObject({ name: 'local', kind: 'local', model: 'tiny/bert-sentiment', url: `${server.url}/models/tiny/bert-sentiment`, providers: { local: 20 } });
    expect(t.requests).toEqual({ sent: 20, ok: 20, failed: 0, warmup: 0 });
    expect(t.latencyMs!.p50).toBeGreaterThan(0);
    expect(t.cost.source).toBe('local');
    expect(t.examples).toHaveLength(3);
    expect(JSON.parse(t.examples[0]!.body)[0][0]).toHaveProperty('label');
    expect(readFileSync(csv, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readFileSync(html, 'utf8')).toContain('<canvas id="chart-percentiles"');
  }, 60_000);

  it('compares two results and says where their settings differ', async () => {
    const b = path.join(dir, 'b.json');
    const res = await cli(['local', '--base-url', server.url, '--model', 'tiny/bert-sentiment', '-n', '8', '-c', '2', '--json', b, '--no-progress']);
    expect(res.code, res.stderr).toBe(0);
    const cmp = await cli(['compare', path.join(dir, 'a.json'), b]);
    expect(cmp.code, cmp.stderr).toBe(0);
    expect(cmp.stdout).toContain('requests: 20 → 8');
    expect(cmp.stdout).toMatch(/^local\s+1\s+20\s/m);
    expect(cmp.stdout).toMatch(/^local\s+2\s+8\s.*[+-]\d+\.\d%/m);
    const bad = await cli(['compare', path.join(dir, 'a.json'), path.join(dir, 'a.csv')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('cannot read');
  }, 60_000);

  it('report renders a saved result again', async () => {
    const res = await cli(['report', path.join(dir, 'a.json'), '--csv', '-']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.split('\n')[0]).toMatch(/^target,kind,url/);
    expect(res.stderr).toMatch(/^local\s+20\/20/m);
  }, 30_000);

  it('sends a URL target its token from the environment and never prints or stores it', async () => {
    const secret = 'sk-bench-secret-12345';
    const { app, sim } = simulators['openai-compatible']!.factory({ plan: { latencyMs: { mean: 2 } }, token: secret });
    const s: Simulator = await listen(app, sim);
    try {
      const out = path.join(dir, 'token.json');
      const res = await cli([`${s.url}/v1/chat/completions`, '--model', 'sim/chat', '-n', '5', '--token-env', 'SIM_KEY', '--json', out, '--no-progress'], { SIM_KEY: secret });
      expect(res.code, res.stderr).toBe(0);
      const text = readFileSync(out, 'utf8');
      const run = benchRunSchema.parse(JSON.parse(text));
      // The simulator refuses calls without the key: 5 answers mean it was sent.
      expect(run.targets[0]!.requests.ok).toBe(5);
      expect(run.targets[0]!.tokenEnv).toBe('SIM_KEY');
      for (const where of [text, res.stdout, res.stderr]) expect(where).not.toContain(secret);

      // Without the key the same target fails with 401s, reported as such.
      const denied = await cli([`${s.url}/v1/chat/completions`, '--model', 'sim/chat', '-n', '3', '--json', '-', '--no-progress']);
      expect(denied.code).toBe(1);
      expect(JSON.parse(denied.stdout).targets[0].errors).toEqual({ http_4xx: 3 });
    } finally {
      await s.close();
    }
  }, 60_000);

  it('refuses an external URL whose token variable is not set, before sending anything', async () => {
    const res = await cli(['https://router.huggingface.co/v1/chat/completions', '--model', 'x/y', '-n', '1']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('HF_TOKEN is not set');
    const bad = await cli(['no_such-target!', '--base-url', server.url, '--model', 'tiny/bert-sentiment']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not one of: local, a provider name/);
  }, 30_000);
});
