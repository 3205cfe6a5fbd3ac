/** What the pull tests share: the CLI as a child process, a temp HF cache each, and one input per tiny model. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.ts';

export function tempCache(): string {
  return mkdtempSync(path.join(tmpdir(), 'modelhost-hf-cache-'));
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `modelhost <args>` from the sources (tsx), with its own HF cache; `onStart` gets the child (to kill it). */
export function modelhost(args: string[], cacheDir: string, opts: { env?: Record<string, string>; onStart?: (child: ReturnType<typeof spawn>) => void } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, HF_HUB_CACHE: cacheDir, ...opts.env };
  delete env.HF_ENDPOINT;
  delete env.MODELHOST_HF_CACHE;
  delete env.HF_TOKEN;
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], { env, cwd: REPO_ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  opts.onStart?.(child);
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const IMAGE = readFileSync(path.join(REPO_ROOT, 'src', 'ui', 'samples', 'image.png'));

/** One call per tiny model, covering every task they serve. */
export const CALLS: { id: string; body: unknown; binary?: Buffer }[] = [
  { id: 'tiny/bert-sentiment', body: { inputs: 'I really like this film' } },
  { id: 'tiny/bert-nli', body: { inputs: 'The phone will not start', parameters: { candidate_labels: ['urgent', 'not urgent'] } } },
  { id: 'tiny/bert-ner', body: { inputs: 'My name is Sarah and I live in London' } },
  { id: 'tiny/bert-mlm', body: { inputs: 'The capital of France is [MASK].' } },
  { id: 'tiny/bert-qa', body: { inputs: { question: 'Where do I live?', context: 'My name is Sarah and I live in London.' } } },
  { id: 'tiny/minilm-embed', body: { inputs: 'That is a happy person' } },
  { id: 'tiny/gpt2', body: { inputs: 'Once upon a time', parameters: { max_new_tokens: 5, do_sample: false } } },
  { id: 'tiny/vit', body: undefined, binary: IMAGE },
];

export async function call(base: string, c: (typeof CALLS)[number], headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; headers: Headers }> {
  const res = await fetch(`${base}/models/${c.id}`, {
    method: 'POST',
    headers: { 'content-type': c.binary ? 'image/png' : 'application/json', ...headers },
    body: c.binary ? new Uint8Array(c.binary) : JSON.stringify(c.body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, json, headers: res.headers };
}
