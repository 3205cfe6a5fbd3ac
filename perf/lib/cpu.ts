/** CPU accounting, to tell how much of the machine other processes took during a measurement (noise). */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Busy CPU seconds of the whole machine since boot (all cores; idle and iowait excluded); NaN without /proc. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used; NaN where /proc is missing or the process is gone. */
export function processCpuSeconds(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, i.e. 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** CPU seconds of this process's children that have been waited for (cutime + cstime: a finished execFileSync's). */
export function waitedChildrenCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** A process and its direct children (a cluster primary and its workers). */
export interface ProcessTree {
  tree: number;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // ppid is the second field after the command name.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds of a process, or of a process and its direct children. */
function cpuOf(ref: number | 'self' | ProcessTree): number {
  if (typeof ref !== 'object') return processCpuSeconds(ref);
  return [ref.tree, ...childrenOf(ref.tree)].map(processCpuSeconds).filter(Number.isFinite).reduce((a, b) => a + b, 0);
}

/** Measures cores used by `pids`, and by everything else on the machine, between `start()` and `stop()`. */
export function cpuWindow(pids: (number | 'self' | ProcessTree)[]): () => { seconds: number; cores: number[]; others: number } {
  const t0 = performance.now();
  const busy0 = machineBusySeconds();
  const own0 = pids.map(cpuOf);
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const busy = machineBusySeconds() - busy0;
    const used = pids.map((pid, i) => cpuOf(pid) - own0[i]!);
    const ours = used.reduce((a, b) => a + b, 0);
    return { seconds, cores: used.map((u) => u / seconds), others: Math.max(0, busy - ours) / seconds };
  };
}
