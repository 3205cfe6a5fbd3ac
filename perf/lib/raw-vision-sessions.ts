/**
 * The raw detection limit with the server's parallelism: `sessions` onnxruntime sessions on the same files, each in
 * its own process with its share of the cores, all at once (what `--model-instances` does inside one server).
 * Shown beside the one-session limit the target is measured against, so the note can say how both compare.
 *
 * Run as a script, this file is one of those processes: it prints `{"itemsPerSec": n}` and exits.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchPictures, runRawVision } from './vision-bench.ts';

export async function runRawVisionSessions(modelDir: string, sessions: number, batchSize: number, seconds: number): Promise<{ sessions: number; threads: number; batchSize: number; itemsPerSec: number }> {
  const threads = Math.max(1, Math.floor(os.availableParallelism() / sessions));
  const one = () =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), modelDir, String(threads), String(batchSize), String(seconds)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        const line = out.trim().split('\n').at(-1) ?? '';
        if (code === 0 && line.startsWith('{')) resolve((JSON.parse(line) as { itemsPerSec: number }).itemsPerSec);
        else reject(new Error(`raw session process exited with ${code}: ${out.slice(-500)}`));
      });
    });
  const rates = await Promise.all(Array.from({ length: sessions }, one));
  return { sessions, threads, batchSize, itemsPerSec: rates.reduce((a, b) => a + b, 0) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [modelDir, threads, batchSize, seconds] = process.argv.slice(2);
  const { best } = await runRawVision(modelDir!, await benchPictures(), [Number(batchSize)], Number(seconds), 1, () => undefined, true, Number(threads));
  console.log(JSON.stringify({ itemsPerSec: best.itemsPerSec }));
}
