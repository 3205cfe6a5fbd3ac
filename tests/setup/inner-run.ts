/**
 * A vitest run inside a test, as a fresh machine would start it: MODELHOST_TEST_POSTGRES and MODELHOST_TEST_REDIS
 * removed from its environment, so its global setup starts services of its own. The `test services:` line it
 * prints says which processes and folder those are, so the caller can check they are gone afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.ts';

export interface InnerServices {
  postgres: { port: number; pid: number };
  redis: { port: number; pid: number };
  folder: string;
}

export interface InnerRun {
  child: ChildProcess;
  /** Resolves once the run has printed its services line (rejects if it exits first). */
  services: Promise<InnerServices>;
  exited: Promise<number | null>;
  output(): string;
}

const LINE = /test services: PostgreSQL on 127\.0\.0\.1:(\d+) \(pid (\d+)\), Redis on 127\.0\.0\.1:(\d+) \(pid (\d+)\), in (\S+)/;

export function startInnerVitest(args: string[]): InnerRun {
  const env = { ...process.env };
  // The outer run's services and this worker's vitest identity must not leak into the inner run.
  for (const name of Object.keys(env)) {
    if (name === 'MODELHOST_TEST_POSTGRES' || name === 'MODELHOST_TEST_REDIS' || name.startsWith('VITEST')) delete env[name];
  }
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const services = new Promise<InnerServices>((resolve, reject) => {
    const look = (d: Buffer) => {
      output += d.toString();
      const m = output.match(LINE);
      if (m) resolve({ postgres: { port: Number(m[1]), pid: Number(m[2]) }, redis: { port: Number(m[3]), pid: Number(m[4]) }, folder: m[5]! });
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    void exited.then(() => reject(new Error(`the inner run printed no services line:\n${output.slice(-3_000)}`)));
  });
  services.catch(() => {});
  return { child, services, exited, output: () => output };
}

/** Gone, or a zombie waiting to be reaped (it has exited and holds no port, file or memory). */
export function processGone(pid: number): boolean {
  const state = procStat(pid)?.state;
  return state === undefined || state === 'Z';
}

/** Every live process below `pid`, with its command line: what a run has started and must not leave behind. */
export function descendants(pid: number): { pid: number; command: string }[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const stat = /^\d+$/.test(name) ? procStat(Number(name)) : undefined;
    if (stat && stat.state !== 'Z') parents.set(Number(name), stat.ppid);
  }
  const found: { pid: number; command: string }[] = [];
  const walk = (parent: number) => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      found.push({ pid: child, command: readProc(`/proc/${child}/cmdline`)?.replace(/\0/g, ' ').trim() ?? '?' });
      walk(child);
    }
  };
  walk(pid);
  return found;
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  // The fields after the command name, which is in parentheses and may itself contain spaces.
  const rest = readProc(`/proc/${pid}/stat`)?.replace(/^.*\) /s, '').split(' ');
  return rest ? { state: rest[0]!, ppid: Number(rest[1]) } : undefined;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export async function waitGone(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter((p) => !processGone(p));
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = left.filter((p) => !processGone(p));
  }
  return left;
}

/** The addresses listening on a TCP port (IPv4 and IPv6), from /proc/net: e.g. ['127.0.0.1']. */
export function listeners(port: number): string[] {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A: LISTEN
      const [address, hexPort] = local.split(':') as [string, string];
      if (parseInt(hexPort, 16) === port) found.push(decodeAddress(address));
    }
  }
  return found;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) return (hex.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.');
  // IPv6 in /proc is four little-endian 32-bit words; anything but ::1 and v4-mapped loopback is reported raw.
  if (hex === '00000000000000000000000001000000') return '::1';
  if (hex.startsWith('0000000000000000FFFF0000')) return `::ffff:${decodeAddress(hex.slice(24))}`;
  return hex;
}
