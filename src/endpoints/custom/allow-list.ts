/**
 * Which executables an `endpoints`-scoped token may start (`--endpoint-commands <file>`): a text file, one command
 * a line, `#` starts a comment. A bare name (`llama-server`) allows exactly that name, looked up on modelhost's PATH;
 * a path allows that file (compared after resolving it). An `admin` token may start any command. Anything else is
 * refused with a 403 naming the list, before anything is started or stored.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ModelhostError } from '../../core/errors.ts';

export interface CommandAllowList {
  file: string;
  commands: string[];
}

/** Reads the allow-list file; a missing or unreadable file is a configuration error at start, not at request time. */
export function loadAllowList(file: string): CommandAllowList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--endpoint-commands: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  const commands = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
  return { file: path.resolve(file), commands };
}

function matches(entry: string, command: string): boolean {
  const isPath = (s: string) => s.includes('/');
  if (!isPath(entry)) return entry === command;
  return isPath(command) && path.resolve(entry) === path.resolve(command);
}

/** Throws 403 unless the caller may start `command`. */
export function checkCommand(command: string, caller: { admin?: boolean }, list: CommandAllowList | undefined): void {
  if (caller.admin) return;
  if (!list) {
    throw new ModelhostError(
      'forbidden',
      403,
      `Only admin tokens may start server commands: this server has no allow-list for endpoints tokens (modelhost serve --endpoint-commands <file>). "${command}" was not started.`,
    );
  }
  if (list.commands.some((entry) => matches(entry, command))) return;
  throw new ModelhostError(
    'forbidden',
    403,
    `"${command}" is not in the server's allow-list of endpoint commands (${list.file}: ${list.commands.join(', ') || 'empty'}); an endpoints token may start only those, an admin token any. Nothing was started.`,
  );
}
