/**
 * `npm run bench:pull`: how fast `modelhost pull` fetches a model from another modelhost on loopback, next to
 * `curl` fetching the same files from the same server, and how long a pulled model takes to give its first
 * answer. Writes a ~200 MB model (tiny/bert-bench at hidden 1024, 4 layers: a real, runnable encoder) into a
 * temp folder, serves it from instance A (`modelhost serve`, child process), then per round:
 *   - curl: one process fetching every file of the repo from A's /resolve/ (keep-alive, to disk);
 *   - pull: the library's pull() in this process into a fresh HF cache (metadata, up to 8 connections: the
 *     weights in 8 MB parts over 4 of them, SHA-256/git SHA-1 verification, writes to disk), timed from the
 *     first request to the last link;
 * then once the CLI (`modelhost pull`, wall time with its start-up), and instance B:
 *   - serving the pulled cache: the first call's time to answer (the load);
 *   - `serve --pull` with an empty cache: the first call (held) until its answer (pull + load).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { writeBenchModel } from '../tools/tiny-models/index.ts';
import { pull } from '../src/hub/pull/pull.ts';
import { processCpuSeconds, waitedChildrenCpuSeconds } from './lib/cpu.ts';
import { startServer } from './lib/server.ts';
import { fmt, table } from './lib/table.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = 'tiny/bert-bench';

const opts = new Command()
  .option('--rounds <n>', 'curl and pull rounds (the median is reported)', '3')
  .option('--hidden <n>', 'hidden size of the model (1024: ~200 MB)', '1024')
  .option('--json', 'print the figures as JSON')
  .parse()
  .opts<{ rounds: string; hidden: string; json?: boolean }>();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds SHA-256 (what pull verifies with) takes over `bytes` on this machine, in one thread. */
function sha256Seconds(bytes: number): number {
  const block = randomBytes(16 * 1024 * 1024);
  const hash = createHash('sha256');
  const t = performance.now();
  for (let done = 0; done < bytes; done += block.length) hash.update(done + block.length <= bytes ? block : block.subarray(0, bytes - done));
  hash.digest();
  return (performance.now() - t) / 1000;
}
const MB = 1e6;

async function post(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ inputs: 'What a wonderful day it was' }) });
  await res.arrayBuffer();
  return res.status;
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), 'modelhost-bench-pull-'));
  const hidden = Number(opts.hidden);
  process.stderr.write(`writing ${REPO} (hidden ${hidden}) into ${work} ...\n`);
  await writeBenchModel(path.join(work, 'models'), { hidden, layers: 4, heads: 16, intermediate: 4 * hidden });

  const a = await startServer(root, ['--models-dir', path.join(work, 'models'), '--no-builtin-models', '--no-hf-cache', '--auth', 'off', '--log-level', 'warn']);
  const tree = (await (await fetch(`${a.url}/api/models/${REPO}/tree/main?recursive=true`)).json()) as { type: string; path: string; size: number }[];
  const files = tree.filter((e) => e.type === 'file');
  const bytes = files.reduce((n, f) => n + f.size, 0);
  process.stderr.write(`A serves ${REPO} at ${a.url}: ${files.length} files, ${fmt(bytes / MB)} MB\n`);

  // On a shared machine the figures mean little without the load they were taken under.
  const loadBefore = os.loadavg()[0]!;
  const rounds = Number(opts.rounds);
  const curlS: number[] = [];
  const pullS: number[] = [];
  // CPU seconds per round: the client (curl, or this process for pull(): its threads included) and server A.
  const cpu = { curl: [] as number[], pull: [] as number[], serverCurl: [] as number[], serverPull: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    // Dirty pages of the last round written back first, so neither side pays for the other's writeback.
    execFileSync('sync');
    const out = path.join(work, `curl-${r}`);
    for (const f of files) mkdirSync(path.dirname(path.join(out, f.path)), { recursive: true });
    const args = ['-sSf', ...files.flatMap((f) => [`${a.url}/${REPO}/resolve/main/${f.path}`, '-o', path.join(out, f.path)])];
    let [server0, client0] = [processCpuSeconds(a.pid), waitedChildrenCpuSeconds()];
    let t = performance.now();
    execFileSync('curl', args);
    curlS.push((performance.now() - t) / 1000);
    cpu.curl.push(waitedChildrenCpuSeconds() - client0);
    cpu.serverCurl.push(processCpuSeconds(a.pid) - server0);
    rmSync(out, { recursive: true, force: true });
    execFileSync('sync');

    const cacheDir = path.join(work, `cache-${r}`);
    [server0, client0] = [processCpuSeconds(a.pid), processCpuSeconds('self')];
    t = performance.now();
    const result = await pull({ repo: REPO, revision: 'main', endpoint: a.url, cacheDir, all: true });
    pullS.push((performance.now() - t) / 1000);
    cpu.pull.push(processCpuSeconds('self') - client0);
    cpu.serverPull.push(processCpuSeconds(a.pid) - server0);
    if (result.fetchedBytes !== bytes) throw new Error(`pull fetched ${result.fetchedBytes} of ${bytes} bytes`);
    if (r < rounds - 1) rmSync(cacheDir, { recursive: true, force: true });
    process.stderr.write(`round ${r + 1}: curl ${fmt(curlS[r]!, 2)} s, pull ${fmt(pullS[r]!, 2)} s\n`);
  }
  const pulled = path.join(work, `cache-${rounds - 1}`);

  // The CLI once, wall time (start-up included).
  const cliCache = path.join(work, 'cache-cli');
  let t = performance.now();
  const cli = spawnSync(process.execPath, [path.join(root, 'bin', 'modelhost.js'), 'pull', REPO, '--endpoint', a.url, '--no-progress'], { env: { ...process.env, HF_HUB_CACHE: cliCache, MODELHOST_HF_CACHE: '' }, encoding: 'utf8' });
  const cliS = (performance.now() - t) / 1000;
  if (cli.status !== 0) throw new Error(`modelhost pull failed: ${cli.stderr}`);
  rmSync(cliCache, { recursive: true, force: true });

  // B on the pulled cache: the first call loads the model.
  const b = await startServer(root, ['--models-dir', path.join(work, 'empty'), '--no-builtin-models', '--hf-cache', pulled, '--auth', 'off', '--log-level', 'warn']);
  t = performance.now();
  const firstStatus = await post(`${b.url}/models/${REPO}`, { 'x-wait-for-model': 'true' });
  const firstAnswerS = (performance.now() - t) / 1000;
  await b.stop();
  if (firstStatus !== 200) throw new Error(`B answered ${firstStatus}`);

  // B with --pull and an empty cache: the first call is held through the pull and the load.
  const c = await startServer(root, ['--models-dir', path.join(work, 'empty'), '--no-builtin-models', '--hf-cache', path.join(work, 'cache-on-demand'), '--pull', '--pull-endpoint', a.url, '--auth', 'off', '--log-level', 'warn']);
  t = performance.now();
  const onDemandStatus = await post(`${c.url}/models/${REPO}`, { 'x-wait-for-model': 'true' });
  const onDemandS = (performance.now() - t) / 1000;
  await c.stop();
  await a.stop();
  if (onDemandStatus !== 200) throw new Error(`serve --pull answered ${onDemandStatus}`);
  rmSync(work, { recursive: true, force: true });

  const load = { before: loadBefore, after: os.loadavg()[0]!, cores: os.cpus().length };
  const hashS = sha256Seconds(bytes);
  // Both runs keep this machine's cores busy (client + server CPU over wall time), so a pull's wall time follows
  // its CPU; verifying the download alone takes hashS of it, which curl does not spend.
  const busy = {
    curl: (median(cpu.curl) + median(cpu.serverCurl)) / median(curlS),
    pull: (median(cpu.pull) + median(cpu.serverPull)) / median(pullS),
  };
  const curlRate = bytes / MB / median(curlS);
  const pullRate = bytes / MB / median(pullS);
  const figures = {
    model: { repo: REPO, files: files.length, megabytes: bytes / MB },
    curl: { seconds: median(curlS), mbPerSecond: curlRate },
    pull: { seconds: median(pullS), mbPerSecond: pullRate, ofCurl: pullRate / curlRate, target: 0.8 },
    cli: { wallSeconds: cliS },
    firstAnswer: { pulledCacheSeconds: firstAnswerS, servePullSeconds: onDemandS },
    rounds: { curlSeconds: curlS, pullSeconds: pullS },
    cpuSeconds: { curl: median(cpu.curl), pull: median(cpu.pull), serverForCurl: median(cpu.serverCurl), serverForPull: median(cpu.serverPull), sha256: hashS },
    coresBusy: busy,
    loadAverage: load,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `\n${table(
      ['loopback, ' + fmt(bytes / MB) + ' MB', 'seconds (median)', 'MB/s', 'vs curl'],
      [
        ['curl (same files)', fmt(median(curlS), 2), fmt(curlRate), '100 %'],
        ['pull() (verified, in parts)', fmt(median(pullS), 2), fmt(pullRate), `${fmt((pullRate / curlRate) * 100, 0)} %`],
        ['modelhost pull (CLI wall time)', fmt(cliS, 2), fmt(bytes / MB / cliS), `${fmt((bytes / MB / cliS / curlRate) * 100, 0)} %`],
      ],
    )}\n\n` +
      `pull vs curl: ${fmt((pullRate / curlRate) * 100, 0)} % (target >= 80 %) ${pullRate / curlRate >= 0.8 ? 'met' : 'NOT met'}\n` +
      `CPU (medians): curl ${fmt(median(cpu.curl), 2)} s + server ${fmt(median(cpu.serverCurl), 2)} s = ${fmt(busy.curl, 1)} cores busy; ` +
      `pull() ${fmt(median(cpu.pull), 2)} s + server ${fmt(median(cpu.serverPull), 2)} s = ${fmt(busy.pull, 1)} cores busy, of ${load.cores}\n` +
      `SHA-256 of ${fmt(bytes / MB)} MB alone: ${fmt(hashS, 2)} s of one core (${fmt((hashS / median(curlS)) * 100, 0)} % of curl's whole wall time; curl verifies nothing)\n` +
      `load average (1 min) ${fmt(load.before, 1)} before the rounds, ${fmt(load.after, 1)} after, on ${load.cores} cores\n` +
      `first answer of the pulled model (load + one call): ${fmt(firstAnswerS, 2)} s\n` +
      `first answer with serve --pull and an empty cache (pull + load + call, held): ${fmt(onDemandS, 2)} s\n`,
  );
}

await main();
