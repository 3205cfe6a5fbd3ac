import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, TEST_MODELS_DIR } from './helpers/paths.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');

function cli(args: string[], env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('modelhost CLI', () => {
  it('explains each command with --help', () => {
    const top = cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['serve', 'models', 'run']) expect(top.stdout).toContain(c);
    const serve = cli(['serve', '--help']);
    for (const flag of ['--port', '--preload', '--max-batch-size', '--model-instances', '--models-dir', '--wait-for-model-by-default']) expect(serve.stdout).toContain(flag);
    expect(cli(['run', '--help']).stdout).toContain('--file');
    expect(cli(['models', 'list', '--help']).stdout).toContain('--task');
  });

  it('lists the repository, as a table and as JSON', () => {
    const json = cli(['models', 'list', '--json', '--models-dir', TEST_MODELS_DIR]);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout) as { id: string; pipeline_tag: string }[];
    expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining(['tiny/bert-sentiment', 'tiny/gpt2', 'facebook/fasttext-lid-176', 'snakers4/silero-vad']));
    const table = cli(['models', 'list', '--task', 'fill-mask', '--models-dir', TEST_MODELS_DIR]);
    expect(table.stdout).toMatch(/tiny\/bert-mlm\s+fill-mask\s+transformers/);
    expect(table.stdout).not.toContain('tiny/gpt2');
  });

  it('runs one input locally like a pipeline', () => {
    const res = cli(['run', 'facebook/fasttext-lid-176', 'Guten Morgen, wie geht es Ihnen?', '--parameters', '{"top_k": 2}']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { label: string }[][];
    expect(out[0]).toHaveLength(2);
    expect(out[0]![0]!.label).toBe('de');
    const vad = cli(['run', 'snakers4/silero-vad', '--file', path.join(REPO_ROOT, 'tests/fixtures/audio/speech-16k-mono.wav')]);
    expect(vad.code, vad.stderr).toBe(0);
    expect((JSON.parse(vad.stdout) as unknown[]).length).toBeGreaterThan(0);
    const qa = cli(['run', 'tiny/bert-qa', '{"inputs": {"question": "Who?", "context": "Sarah lives in London."}}', '--models-dir', TEST_MODELS_DIR]);
    expect(qa.code, qa.stderr).toBe(0);
    expect(JSON.parse(qa.stdout)).toHaveProperty('answer');
  });

  it('says what went wrong in one line, with a non-zero exit', () => {
    const missing = cli(['run', 'nobody/nothing', 'hi']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no model nobody\/nothing/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const badParams = cli(['run', 'facebook/fasttext-lid-176', 'hi', '--parameters', '{"top_k": 0}']);
    expect(badParams.code).toBe(2);
    expect(badParams.stderr).toMatch(/top_k/);
    const badPort = cli(['serve', '--port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/port/);
  });

  it('serves on the port given by the PORT variable', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--models-dir', TEST_MODELS_DIR, '--data-dir', mkdtempSync(path.join(tmpdir(), 'mh-cli-')), '--log-level', 'warn'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    try {
      let health: Response | undefined;
      for (let i = 0; i < 100 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.status).toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/models/facebook/fasttext-lid-176`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-wait-for-model': 'true' },
        body: JSON.stringify({ inputs: 'Bonjour tout le monde, comment allez-vous ?' }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { label: string }[][])[0]![0]!.label).toBe('fr');
    } finally {
      child.kill('SIGTERM');
    }
  });
});
