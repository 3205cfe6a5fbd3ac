/**
 * What a custom server replica's process is given: not modelhost's whole environment (it holds modelhost's own
 * keys), but a few variables every program expects, the spec's `env` values, the variables `passEnv` names, its
 * port, and its thread count through the variables the usual runtimes read. The values of passed-through variables
 * are also what is redacted from the replica's output.
 */
import type { CustomServer } from './spec.ts';

/** Kept from modelhost's environment: what programs expect to find, none of it secret. */
const BASE_VARIABLES = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'SHELL'];

/** Read by OpenMP, BLAS libraries, PyTorch, llama.cpp-based servers and onnxruntime (through modelhost's runtime). */
const THREAD_VARIABLES = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'LLAMA_ARG_THREADS', 'MODELHOST_ORT_THREADS'];

export interface ReplicaEnvironment {
  env: Record<string, string>;
  /** Values of passed-through variables, to be redacted from anything shown. */
  secrets: { name: string; value: string }[];
}

/** The variables `passEnv` names that modelhost's environment does not have (a spec naming them cannot start). */
export function missingPassEnv(custom: CustomServer, from: NodeJS.ProcessEnv = process.env): string[] {
  return custom.passEnv.filter((name) => from[name] === undefined);
}

export function replicaEnvironment(custom: CustomServer, port: number, threads: number, from: NodeJS.ProcessEnv = process.env): ReplicaEnvironment {
  const env: Record<string, string> = {};
  for (const name of BASE_VARIABLES) if (from[name] !== undefined) env[name] = from[name]!;
  for (const name of THREAD_VARIABLES) env[name] = String(threads);
  Object.assign(env, custom.env);
  const secrets: ReplicaEnvironment['secrets'] = [];
  for (const name of custom.passEnv) {
    const value = from[name];
    if (value === undefined) continue;
    env[name] = value;
    secrets.push({ name, value });
  }
  env[custom.portVariable] = String(port);
  return { env, secrets };
}

/**
 * Replaces every passed-through secret in a text by `[NAME redacted]`. Values under 4 characters are left alone:
 * they would blank out ordinary words and digits, and are no secret worth the name.
 */
export function redactor(secrets: ReplicaEnvironment['secrets']): (text: string) => string {
  const kept = secrets.filter((s) => s.value.length >= 4).sort((a, b) => b.value.length - a.value.length);
  if (kept.length === 0) return (text) => text;
  return (text) => kept.reduce((t, s) => t.split(s.value).join(`[${s.name} redacted]`), text);
}
