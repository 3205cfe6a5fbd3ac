/**
 * A custom server endpoint's spec: `model.image.custom` of the create/update body, in the shape Hugging Face gives
 * custom containers (https://huggingface.co/docs/inference-endpoints/guides/custom_container: `url`, `health_route`,
 * `port`, `env`), for a command run on this machine instead of an image. Its replicas are processes of that command,
 * each given a port of its own through `portVariable` (README: Custom servers).
 *
 * Secrets are passed by name (`passEnv`): the spec, the endpoint's JSON and its stored row hold names, never values;
 * values are read from modelhost's own environment when a replica starts.
 */
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { EndpointSpec } from '../spec.ts';

/** The API a custom server speaks: which paths are forwarded and how usage is read (api-kinds.ts). */
export const API_KINDS = ['openai', 'hf', 'tgi', 'raw'] as const;
export type ApiKind = (typeof API_KINDS)[number];

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (letters, digits, underscores)');

export const customSchema = z
  .object({
    /** The executable: a name found on modelhost's PATH, or a path. `url` (Hugging Face's name for the image) is accepted too. */
    command: z.string({ error: 'required: the executable to run (e.g. llama-server or /usr/bin/python3)' }).min(1, 'must not be empty').max(4096),
    args: z.array(z.string().max(4096)).max(256).default([]),
    /** Variables given by value (visible in the endpoint's JSON: no secrets here). */
    env: z.record(envName, z.string().max(65_536)).default({}),
    /** Names of modelhost's own environment variables handed to the replicas (keys, tokens): values never stored. */
    passEnv: z.array(envName).max(64).default([]),
    workingDir: z.string().min(1).optional(),
    /** The variable that carries each replica's port; `$NAME` / `${NAME}` in args is replaced by it too. */
    portVariable: envName.default('PORT'),
    /** GET on it answers 2xx once the server can serve. */
    healthRoute: z.string().regex(/^\//, 'must start with /').default('/health'),
    /** Seconds a replica may take to answer its health route before the start counts as failed. */
    startTimeout: z.number().positive().max(3600).default(300),
    /** Seconds between SIGTERM and SIGKILL when a replica is stopped. */
    stopTimeout: z.number().min(0).max(600).default(10),
    api: z.enum(API_KINDS, { error: `must be one of ${API_KINDS.join(', ')}` }).default('openai'),
  })
  .strict();

export type CustomServer = z.output<typeof customSchema>;

/** Hugging Face's field names accepted as aliases (`url` for the command, `health_route`). */
function normalise(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const { url, health_route: healthRoute, ...rest } = raw as Record<string, unknown>;
  return { ...(url !== undefined && rest.command === undefined ? { command: url } : {}), ...(healthRoute !== undefined && rest.healthRoute === undefined ? { healthRoute } : {}), ...rest };
}

/** `model.image.custom` of a body, validated (every problem named), or undefined when the endpoint runs a model. */
export function parseCustom(image: Record<string, unknown> | undefined): CustomServer | undefined {
  if (!image || image.custom == null) return undefined;
  const parsed = customSchema.safeParse(normalise(image.custom));
  if (!parsed.success) {
    throw new InputError(`Invalid endpoint: ${parsed.error.issues.map((i) => `${['body.model.image.custom', ...i.path].join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The custom server a stored spec runs, if any (stored specs were validated when created). */
export function customOf(spec: EndpointSpec): CustomServer | undefined {
  const raw = spec.model.image?.custom;
  if (raw == null) return undefined;
  const parsed = customSchema.safeParse(normalise(raw));
  return parsed.success ? parsed.data : undefined;
}

/** Replaces `$VAR` and `${VAR}` of the port variable in an argument. */
export function substitutePort(arg: string, variable: string, port: number): string {
  return arg.replaceAll(`\${${variable}}`, String(port)).replace(new RegExp(`\\$${variable}(?![A-Za-z0-9_])`, 'g'), String(port));
}

/** Whether the spec runs a server command rather than a model of the engine or a provider. */
export function isCustom(spec: EndpointSpec): boolean {
  // null as well as absent: an update sends `custom: null` to drop it (merged bodies cannot delete a key).
  return spec.model.image?.custom != null;
}
