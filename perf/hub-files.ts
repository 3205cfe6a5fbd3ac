/**
 * `npm run bench:hub`: what the Hub file API costs on a folder model with one big weight file. Measures the
 * first model info (every file hashed: SHA-256 of the weights, git SHA-1 of the rest), a later one (digests
 * kept, a stat per file), a whole download streamed from /resolve/, and the `Range: bytes=0-0` probes that
 * transformers.js and `@huggingface/hub` send before each file. Server and client share this process (the
 * figures include the client's work), on loopback; the model is written to a temporary folder and removed.
 */
import { randomFillSync } from 'node:crypto';
import { closeSync, cpSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { compose } from '../src/compose.ts';
import { loadConfig } from '../src/config.ts';
import { writeTinyModels } from '../tools/tiny-models/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};
const opts = new Command('bench:hub')
  .description('Hub file API costs: hashing, model info, streaming a big file, Range probes.')
  .option('--size-mb <n>', 'size of the weight file', positive, 512)
  .option('--probes <n>', 'Range bytes=0-0 probes, one after another', positive, 200)
  .parse()
  .opts<{ sizeMb: number; probes: number }>();

async function timed(label: string, run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms`);
  return ms;
}

const models = mkdtempSync(path.join(tmpdir(), 'modelhost-bench-hub-'));
const source = path.join(root, '.cache', 'bench-hub-source');
await writeTinyModels(source, { only: ['tiny/bert-sentiment'] });
const dir = path.join(models, 'bench', 'big');
cpSync(path.join(source, 'tiny', 'bert-sentiment'), dir, { recursive: true });
const weights = path.join(dir, 'onnx', 'model.onnx_data');
const fd = openSync(weights, 'w');
const chunk = Buffer.alloc(1024 * 1024);
for (let i = 0; i < opts.sizeMb; i++) writeSync(fd, randomFillSync(chunk));
closeSync(fd);

const config = loadConfig({ modelsDir: models, builtinModels: false, hfCache: false, port: 0, logLevel: 'silent', dataDir: mkdtempSync(path.join(tmpdir(), 'modelhost-bench-hub-data-')) }, {});
const composed = await compose(config, { logger: false });
try {
  await composed.app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(composed.app.server.address() as { port: number }).port}`;
  const file = `${url}/bench/big/resolve/main/onnx/model.onnx_data`;
  console.log(`weights: ${opts.sizeMb} MiB`);
  await timed('first model info (hashes every file)', () => fetch(`${url}/api/models/bench/big`).then((r) => r.json()));
  await timed('next model info (digests kept)', () => fetch(`${url}/api/models/bench/big`).then((r) => r.json()));
  const ms = await timed(`GET the weights (${opts.sizeMb} MiB)`, async () => {
    const body = (await fetch(file)).body;
    let bytes = 0;
    for await (const part of body as unknown as AsyncIterable<Uint8Array>) bytes += part.length;
    if (bytes !== opts.sizeMb * 1024 * 1024) throw new Error(`got ${bytes} bytes`);
  });
  console.log(`${'  throughput'.padEnd(44)} ${(opts.sizeMb / (ms / 1000)).toFixed(0).padStart(9)} MiB/s`);
  const probes = await timed(`${opts.probes} Range bytes=0-0 probes`, async () => {
    for (let i = 0; i < opts.probes; i++) await (await fetch(file, { headers: { range: 'bytes=0-0' } })).arrayBuffer();
  });
  console.log(`${'  per probe'.padEnd(44)} ${(probes / opts.probes).toFixed(2).padStart(9)} ms`);
  console.log(`${'peak RSS of the process'.padEnd(44)} ${(process.resourceUsage().maxRSS / 1024).toFixed(0).padStart(9)} MiB`);
} finally {
  await composed.close();
  rmSync(models, { recursive: true, force: true });
}
