/** The machine and versions written into every result, so figures are never read without their context. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../config.ts';
import type { z } from 'zod';
import type { machineSchema, versionsSchema } from './result.ts';

const require = createRequire(import.meta.url);

export function machineInfo(): z.infer<typeof machineSchema> {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: process.platform,
    release: os.release(),
    arch: process.arch,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

function packageVersion(name: string): string | undefined {
  try {
    const main = require.resolve(name);
    // Walk up from the entry point to the package's own package.json.
    let dir = path.dirname(main);
    while (dir !== path.dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version;
      } catch {
        // keep walking
      }
      dir = path.dirname(dir);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export function versionsInfo(server?: string): z.infer<typeof versionsSchema> {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  let commit: string | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: packageRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    commit = undefined;
  }
  return {
    modelhost: pkg.version,
    ...(commit ? { commit } : {}),
    node: process.version,
    undici: packageVersion('undici'),
    hdrHistogram: packageVersion('hdr-histogram-js'),
    ...(server ? { server } : {}),
  };
}
