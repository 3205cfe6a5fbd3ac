/**
 * What the manager checks of a custom server spec before anything is stored or started: the spec itself (every
 * problem named), the allow-list for callers that are not admins, and that the variables it passes through exist.
 * The spec is stored normalised (defaults filled in), so the endpoint's JSON shows what runs.
 */
import { existsSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import type { EndpointSpec } from '../spec.ts';
import { checkCommand, type CommandAllowList } from './allow-list.ts';
import { missingPassEnv } from './environment.ts';
import { customOf, parseCustom } from './spec.ts';

/** The task served when the body names none: what the API kind implies. */
// Never empty: a stored spec is parsed again on update, where a task must name something.
const DEFAULT_TASK = { openai: 'text-generation', tgi: 'text-generation', hf: 'custom', raw: 'custom' } as const;

export function checkCustom(spec: EndpointSpec, caller: { admin?: boolean }, allowList: CommandAllowList | undefined, previous?: EndpointSpec): void {
  const custom = parseCustom(spec.model.image);
  if (!custom) return;
  const before = previous && customOf(previous);
  // A change of what runs (command, arguments, environment) is checked again; a scaling change is not.
  if (!before || JSON.stringify(before) !== JSON.stringify(custom)) checkCommand(custom.command, caller, allowList);
  const missing = missingPassEnv(custom);
  if (missing.length > 0) {
    throw new InputError(`Invalid endpoint: body.model.image.custom.passEnv: ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in modelhost's environment (set ${missing.length === 1 ? 'it' : 'them'} where modelhost is started)`);
  }
  if (custom.workingDir !== undefined && !existsSync(custom.workingDir)) {
    throw new InputError(`Invalid endpoint: body.model.image.custom.workingDir: ${custom.workingDir} does not exist on the server`);
  }
  spec.model.image = { ...spec.model.image, custom };
  if (!spec.model.task) spec.model.task = DEFAULT_TASK[custom.api];
}
