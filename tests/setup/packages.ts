/**
 * The Debian packages the test run needs, found on this machine or installed: as root (or with password-less
 * sudo) the missing ones are installed with apt-get; otherwise the run stops with one line per package naming
 * the `apt-get install` that fixes it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

type Env = NodeJS.ProcessEnv;

interface Need {
  /** The Debian package that provides it. */
  package: string;
  /** What the tests use it for, and the alternative to installing it. */
  why: string;
  /** The executable (or folder of executables) when installed, else undefined. */
  find(env: Env): string | undefined;
}

export const NEEDS = {
  postgres: {
    package: 'postgresql',
    why: 'PostgreSQL for the store and multi-instance tests; or set MODELHOST_TEST_POSTGRES to a running server',
    find: findPostgresBin,
  },
  redis: {
    package: 'redis-server',
    why: 'Redis for the limiter tests; or set MODELHOST_TEST_REDIS to a running Redis',
    find: (env) => onPath('redis-server', env),
  },
  chromium: {
    package: 'chromium',
    why: 'Chromium for the browser tests; or set CHROMIUM to a Chrome/Chromium binary',
    find: findChromium,
  },
  // setpriv ties every service to this process (util-linux is essential on Debian, so this rarely triggers).
  setpriv: { package: 'util-linux', why: 'setpriv, which starts the services', find: (env) => onPath('setpriv', env) },
} as const satisfies Record<string, Need>;

export type NeedName = keyof typeof NEEDS;

/** How packages get installed here: directly as root, through `sudo -n`, or not at all. */
export type Installer = 'root' | 'sudo' | 'none';

export interface EnsureOptions {
  env?: Env;
  installer?: Installer;
  /** Where progress goes (one line before installing). */
  log?: (line: string) => void;
}

/** Makes sure every need is met, installing what is missing when it can; throws one line per missing package. */
export async function ensurePackages(names: NeedName[], options: EnsureOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const missing = () => [...new Set(names.filter((n) => NEEDS[n].find(env) === undefined))];
  const before = missing();
  if (before.length === 0) return;
  const installer = options.installer ?? (await detectInstaller());
  if (installer === 'none') throw plainError(before.map(howToInstall).join('\n'));
  const packages = [...new Set(before.map((n) => NEEDS[n].package))];
  (options.log ?? console.log)(`test setup: installing ${packages.join(' ')} with apt-get (needed once; takes a minute)`);
  const sudo = installer === 'sudo' ? ['sudo', '-n'] : [];
  // Another run (or engineer) may be installing at the same time: wait for dpkg's lock rather than fail.
  await apt([...sudo, 'apt-get', '-qq', 'update']);
  await apt([...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', '-qq', '-y', '-o', 'DPkg::Lock::Timeout=600',
    'install', '--no-install-recommends', ...packages]);
  const after = missing();
  if (after.length > 0) throw plainError(after.map((n) => `${NEEDS[n].package} was installed but is still not found (${NEEDS[n].why})`).join('\n'));
}

export function howToInstall(name: NeedName): string {
  const need = NEEDS[name];
  return `${need.package} is not installed (${need.why}): run \`apt-get install -y --no-install-recommends ${need.package}\` as root`;
}

/** The folder holding PostgreSQL's server binaries: Debian's newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function findPostgresBin(env: Env = process.env): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = safeReaddir(root).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    if (executable(path.join(bin, 'postgres')) && executable(path.join(bin, 'initdb'))) return bin;
  }
  const postgres = onPath('postgres', env);
  return postgres && onPath('initdb', env) ? path.dirname(postgres) : undefined;
}

/** CHROMIUM or CHROMIUM_PATH when set (the two names the test helpers and `modelhost bench` read), else PATH. */
export function findChromium(env: Env = process.env): string | undefined {
  for (const set of [env.CHROMIUM, env.CHROMIUM_PATH]) if (set && executable(set)) return set;
  return onPath('chromium', env) ?? onPath('chromium-browser', env);
}

export function onPath(name: string, env: Env = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    if (executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

async function detectInstaller(): Promise<Installer> {
  if (process.getuid?.() === 0) return 'root';
  const sudo = await exec(['sudo', '-n', 'true']).catch(() => ({ code: 1, output: '' }));
  return sudo.code === 0 ? 'sudo' : 'none';
}

async function apt(argv: string[]): Promise<void> {
  const { code, output } = await exec(argv);
  if (code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${code}):\n${output.slice(-3_000)}`);
}

function exec(argv: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = argv as [string, ...string[]];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** An error whose message is all there is to say: vitest prints it without a stack trace. */
function plainError(message: string): Error {
  const error = new Error(message);
  error.stack = message;
  return error;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
