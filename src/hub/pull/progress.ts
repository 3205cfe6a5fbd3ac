/**
 * Progress of a pull for a terminal: one bar over all bytes (with speed and ETA) and a line per file as it
 * finishes. Without a terminal (logs, CI, tests) no bar is drawn, only the plan and the file lines.
 */
import cliProgress from 'cli-progress';
import { Meter } from './meter.ts';
import type { PullEvents, PullPlan } from './pull.ts';
import { sizeOf } from './download.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function progressReporter(out: NodeJS.WriteStream = process.stderr): PullEvents & { stop(): void } {
  const tty = !!out.isTTY;
  const perFile = new Map<string, number>();
  const meter = new Meter();
  let bars: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  let plan: PullPlan | undefined;
  const say = (line: string) => (bars ? bars.log(`${line}\n`) : out.write(`${line}\n`));
  const onDisk = () => [...perFile.values()].reduce((a, b) => a + b, 0);
  return {
    onPlan(p) {
      plan = p;
      const rest = p.totalBytes - p.presentBytes;
      out.write(
        `${p.repo}@${p.revision} -> ${p.sha}${p.dtype ? ` (${p.dtype} weights)` : ''}: ${p.files.length} files, ${formatBytes(p.totalBytes)}` +
          `${p.presentBytes ? `, ${formatBytes(rest)} to fetch` : ''}\n`,
      );
      if (!tty) return;
      bars = new cliProgress.MultiBar(
        {
          stream: out,
          format: ' {bar} {percentage}% | {got}/{size} | {speed} | ETA {eta_formatted} | {files}',
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar = bars.create(p.totalBytes || 1, p.presentBytes, { got: formatBytes(p.presentBytes), size: formatBytes(p.totalBytes), speed: '-', files: `0/${p.files.length} files` });
    },
    onBytes(file, bytes, fresh) {
      perFile.set(file.path, bytes);
      if (fresh) meter.add(fresh);
      const rate = meter.rate();
      bar?.update(onDisk(), { got: formatBytes(onDisk()), speed: rate ? `${formatBytes(rate)}/s` : '-', files: `${done}/${plan?.files.length ?? 0} files` });
    },
    onFileDone(file) {
      done++;
      say(`  ${file.path} (${formatBytes(sizeOf(file))})`);
      bar?.update(onDisk(), { files: `${done}/${plan?.files.length ?? 0} files` });
    },
    stop() {
      bars?.stop();
    },
  };
}
