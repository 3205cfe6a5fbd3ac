/**
 * The speech-recognition part of bench:engine: `tiny/whisper` (the factory's Whisper encoder-decoder, written to
 * .cache/bench-models at bench time), a few clips in the formats people send, and the in-process limit on the same
 * model: transformers.js's own AutomaticSpeechRecognitionPipeline called in the bench process on samples decoded
 * beforehand, with 1, 2 or 4 calls in flight. Whisper decodes token by token in JavaScript, so there is no single
 * `session.run` to time: the pipeline is the fair "raw" here. Served requests also pay for HTTP, base64 and decoding
 * the file; raw does not.
 *
 * Real-time factor: seconds of audio transcribed per second of wall-clock time (and per CPU-second of the server), so
 * 10 means ten seconds of speech are transcribed in one second.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import wavefile from 'wavefile';
import { decodeAudio } from '../../src/engine/audio.ts';
import { writeTinyModels } from '../../tools/tiny-models/index.ts';
import { cpuWindow } from './cpu.ts';
import { runLoad, type LoadPoint } from './load.ts';
import { metric, scrape } from './metrics.ts';
import { startServer, type ServerHandle } from './server.ts';

export const ASR_BENCH_ID = 'tiny/whisper';

const FIXTURES = path.resolve(import.meta.dirname, '../../tests/fixtures/audio');

export interface Clip {
  name: string;
  bytes: Buffer;
  /** 16 kHz mono samples, as the server decodes them. */
  samples: Float32Array;
  seconds: number;
}

/** A 16-bit mono WAV of `samples` at 16 kHz. */
function wav(samples: Float32Array): Buffer {
  const file = new wavefile.WaveFile();
  file.fromScratch(1, 16000, '16', Array.from(samples, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768)))));
  return Buffer.from(file.toBuffer());
}

/**
 * Four clips: the espeak-ng sentence as 16 kHz WAV, as 44.1 kHz stereo MP3 and as a browser's WebM/Opus, and 12 s of
 * it repeated with pauses (WAV). Each fits one 30-second Whisper window.
 */
export async function benchClips(): Promise<Clip[]> {
  const files = ['speech-16k-mono.wav', 'speech-44k-stereo.mp3', 'speech-48k-mono-live.webm'];
  const clips: Clip[] = [];
  for (const name of files) {
    const bytes = readFileSync(path.join(FIXTURES, name));
    const { samples } = await decodeAudio({ data: new Uint8Array(bytes) }, 16000);
    clips.push({ name, bytes, samples, seconds: samples.length / 16000 });
  }
  const speech = clips[0]!.samples;
  const long = new Float32Array(12 * 16000);
  for (let at = 0; at + speech.length <= long.length; at += speech.length + 8000) long.set(speech, at);
  const bytes = wav(long);
  const { samples } = await decodeAudio({ data: new Uint8Array(bytes) }, 16000);
  clips.push({ name: '12 s WAV', bytes, samples, seconds: samples.length / 16000 });
  return clips;
}

/** Request bodies `{inputs: base64}` in clip order. */
function clipBodies(clips: Clip[]): () => string {
  const bodies = clips.map((c) => JSON.stringify({ inputs: c.bytes.toString('base64') }));
  let next = 0;
  return () => bodies[next++ % bodies.length]!;
}

/**
 * Waits until the requests autocannon left in flight at the end of a point are answered (a transcription takes
 * seconds under load, so they would otherwise run into the next point): the queue empties, then one more request,
 * queued behind whatever batch is running, comes back.
 */
async function drain(server: ServerHandle, modelPath: string, body: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && metric(await scrape(server.url), 'modelhost_queued_inputs') > 0) await new Promise((r) => setTimeout(r, 100));
  const res = await fetch(`${server.url}${modelPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
}

const meanSeconds = (clips: Clip[]) => clips.reduce((s, c) => s + c.seconds, 0) / clips.length;

export interface RawAsrPoint {
  /** Pipeline calls in flight at once. */
  inFlight: number;
  clipsPerSec: number;
  rounds: number[];
  /** Audio seconds per wall-clock second. */
  realTime: number;
  /** Audio seconds per CPU-second of the bench process. */
  realTimePerCpu: number;
  otherCores: number;
}

type AsrPipe = (audio: Float32Array) => Promise<unknown>;

/** The in-process limit: each in-flight count for `secondsPerPoint` in `rounds` interleaved rounds; the median round. */
async function runRawAsr(modelsDir: string, clips: Clip[], inFlight: number[], secondsPerPoint: number, rounds: number, log: (line: string) => void): Promise<RawAsrPoint[]> {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelsDir + path.sep;
  const asr = (await pipeline('automatic-speech-recognition', ASR_BENCH_ID, { dtype: 'fp32' })) as unknown as AsrPipe & { dispose(): Promise<void> };
  // Whisper's generate warns on every call without a language (it then transcribes as English, as the server does).
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith('No language specified')) warn(...args);
  };
  try {
    return await measureRawAsr(asr, clips, inFlight, secondsPerPoint, rounds, log);
  } finally {
    console.warn = warn;
    await asr.dispose();
  }
}

async function measureRawAsr(asr: AsrPipe, clips: Clip[], inFlight: number[], secondsPerPoint: number, rounds: number, log: (line: string) => void): Promise<RawAsrPoint[]> {
  for (const c of clips) await asr(c.samples); // first pass at each shape is slow
  const perRound = new Map<number, number[]>(inFlight.map((k) => [k, []]));
  const perCpu = new Map<number, number[]>(inFlight.map((k) => [k, []]));
  const others = new Map<number, number[]>(inFlight.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const k of inFlight) {
      const cpu = cpuWindow(['self']);
      const started = performance.now();
      const until = started + (secondsPerPoint * 1000) / rounds;
      let next = 0;
      let done = 0;
      let audio = 0;
      await Promise.all(
        Array.from({ length: k }, async () => {
          while (performance.now() < until) {
            const clip = clips[next++ % clips.length]!;
            await asr(clip.samples);
            done++;
            audio += clip.seconds;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const used = cpu();
      perRound.get(k)!.push(done / elapsed);
      perCpu.get(k)!.push(audio / Math.max(1e-9, used.cores[0]! * used.seconds));
      others.get(k)!.push(used.others);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return inFlight.map((k) => {
    const clipsPerSec = median(perRound.get(k)!);
    const point = { inFlight: k, clipsPerSec, rounds: perRound.get(k)!, realTime: clipsPerSec * meanSeconds(clips), realTimePerCpu: median(perCpu.get(k)!), otherCores: Math.max(...others.get(k)!) };
    log(`  ${k} in flight: ${clipsPerSec.toFixed(1)} clips/s, real-time ×${point.realTime.toFixed(1)} (×${point.realTimePerCpu.toFixed(1)} per CPU-second)`);
    return point;
  });
}

export interface ServedAsrPoint extends LoadPoint {
  shareOfRaw: number;
  /** Audio seconds per wall-clock second. */
  realTime: number;
  /** Audio seconds per CPU-second of the server (all its threads). */
  realTimePerCpu: number;
}

export interface AsrResult {
  clips: { name: string; seconds: number; bytes: number }[];
  raw: { points: RawAsrPoint[]; best: RawAsrPoint };
  served: ServedAsrPoint[];
  /** Best served req/s over the raw limit. */
  share: number;
  drift: { min: number; max: number };
}

/** Serves tiny/whisper (batching on: concurrent requests share encoder passes) between two in-process runs. */
export async function runAsrBench(
  o: { serverRoot: string; benchDir: string; concurrency: number[]; inFlight: number[]; duration: number; rawSeconds: number; rounds: number; warmup: number; maxBatchSize: number; serverArgs: string[] },
  say: (line: string) => void,
  onServer: (s: ServerHandle | undefined) => void,
): Promise<AsrResult> {
  await writeTinyModels(o.benchDir, { only: [ASR_BENCH_ID] });
  const clips = await benchClips();
  say(`\nspeech recognition: ${ASR_BENCH_ID}, clips ${clips.map((c) => `${c.name} (${c.seconds.toFixed(2)} s)`).join(', ')}`);
  say(`in-process transformers.js pipeline, ${o.rawSeconds} s per in-flight count in ${o.rounds} round(s):`);
  const before = await runRawAsr(o.benchDir, clips, o.inFlight, o.rawSeconds, o.rounds, say);
  const args = ['--models-dir', o.benchDir, '--preload', ASR_BENCH_ID, '--no-builtin-models', '--cache-entries', '0', '--auth', 'off', '--log-level', 'warn', '--max-batch-size', String(o.maxBatchSize), ...o.serverArgs];
  say(`served, batching on: modelhost serve ${args.join(' ')}`);
  const server = await startServer(o.serverRoot, args);
  onServer(server);
  const served: LoadPoint[] = [];
  try {
    const nextBody = clipBodies(clips);
    const modelPath = `/models/${ASR_BENCH_ID}`;
    for (const c of [...o.concurrency].reverse()) await runLoad(server, modelPath, c, Math.max(1, o.warmup / o.concurrency.length), nextBody);
    for (const c of o.concurrency) {
      await drain(server, modelPath, nextBody());
      const p = await runLoad(server, modelPath, c, o.duration, nextBody);
      served.push(p);
      say(`  c=${String(c).padStart(2)}: ${p.reqPerSec.toFixed(1)} req/s, P50 ${p.latencyMs.p50.toFixed(0)} ms, mean batch ${p.meanBatch.toFixed(1)}, server cores ${p.serverCores.toFixed(2)}, other cores ${p.otherCores.toFixed(2)}${p.errors + p.non2xx > 0 ? `, ${p.errors + p.non2xx} errors` : ''}`);
    }
  } finally {
    await server.stop();
    onServer(undefined);
  }
  say('in-process pipeline again (drift check):');
  const after = await runRawAsr(o.benchDir, clips, o.inFlight, o.rawSeconds, o.rounds, say);
  const points = before.map((p, i) => {
    const later = after[i]!;
    const clipsPerSec = (p.clipsPerSec + later.clipsPerSec) / 2;
    return { ...p, clipsPerSec, realTime: clipsPerSec * meanSeconds(clips), realTimePerCpu: (p.realTimePerCpu + later.realTimePerCpu) / 2, rounds: [...p.rounds, ...later.rounds], otherCores: Math.max(p.otherCores, later.otherCores) };
  });
  const ratios = before.map((p, i) => after[i]!.clipsPerSec / p.clipsPerSec);
  const best = points.reduce((a, b) => (b.clipsPerSec > a.clipsPerSec ? b : a));
  const audioPerRequest = meanSeconds(clips);
  const withShare = served.map((p) => ({
    ...p,
    shareOfRaw: p.reqPerSec / best.clipsPerSec,
    realTime: p.reqPerSec * audioPerRequest,
    realTimePerCpu: (p.reqPerSec * audioPerRequest) / Math.max(1e-9, p.serverCores),
  }));
  return {
    clips: clips.map((c) => ({ name: c.name, seconds: c.seconds, bytes: c.bytes.length })),
    raw: { points, best },
    served: withShare,
    share: Math.max(...withShare.map((p) => p.shareOfRaw)),
    drift: { min: Math.min(...ratios), max: Math.max(...ratios) },
  };
}
