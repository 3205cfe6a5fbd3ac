/**
 * A create-prediction body, checked before anything is stored (422 in Replicate's shape otherwise), and the
 * prediction's `input` turned into the Hugging Face task payload it runs as. `input` is the task payload
 * itself (`inputs`, `parameters`), or Replicate's usual names: `prompt` (or `text`) for text, `image` / `audio`
 * as a URL or a `data:` URI; the other fields become `parameters`.
 */
import { z } from 'zod';
import { ModelhostError } from '../core/errors.ts';
import type { InputModality } from '../core/tasks/index.ts';
import { WEBHOOK_EVENTS, type WebhookEvent } from './types.ts';

export class PredictionInputError extends ModelhostError {
  constructor(message: string) {
    super('bad_input', 422, message);
  }
}

const createBody = z.object({
  version: z.string().min(1).max(300).optional(),
  model: z.string().min(1).max(300).optional(),
  input: z.record(z.string(), z.unknown()),
  webhook: z.string().max(2048).optional(),
  webhook_completed: z.string().max(2048).optional(),
  webhook_events_filter: z.array(z.enum(WEBHOOK_EVENTS)).max(4).optional(),
  stream: z.boolean().optional(),
});

export interface CreateRequest {
  /** The model named by `version` / `model` (`owner/name`, `owner/name:version`), when the path names none. */
  model?: string;
  version?: string;
  input: Record<string, unknown>;
  webhook?: URL;
  webhookEvents: WebhookEvent[];
  stream: boolean;
}

/** Replicate's default without a filter: new output and completion. */
const DEFAULT_EVENTS: WebhookEvent[] = ['output', 'completed'];

export function parseCreate(body: unknown): CreateRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new PredictionInputError('The body must be a JSON object such as {"input": {...}}.');
  const parsed = createBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || 'body';
    throw new PredictionInputError(`${where}: ${issue.message}`);
  }
  const b = parsed.data;
  const hook = b.webhook ?? b.webhook_completed;
  let webhook: URL | undefined;
  if (hook !== undefined) {
    try {
      webhook = new URL(hook);
    } catch {
      throw new PredictionInputError(`webhook: "${hook.slice(0, 100)}" is not a URL`);
    }
    if (webhook.protocol !== 'https:' && webhook.protocol !== 'http:') throw new PredictionInputError('webhook: only http and https URLs are accepted');
    if (webhook.username || webhook.password) throw new PredictionInputError('webhook: credentials in the URL are not accepted');
  }
  const ref = b.version ?? b.model;
  let model: string | undefined;
  if (ref !== undefined) {
    const m = /^([\w.-]+\/[\w.-]+)(?::[\w.-]+)?$/.exec(ref);
    if (!m) throw new PredictionInputError(`version: "${ref.slice(0, 100)}" does not name a model here; use "owner/name" (a model id served here)`);
    model = m[1];
  }
  return {
    ...(model ? { model } : {}),
    ...(ref ? { version: ref } : {}),
    input: b.input,
    ...(webhook ? { webhook } : {}),
    webhookEvents: b.webhook_events_filter ?? (b.webhook_completed && !b.webhook ? ['completed'] : DEFAULT_EVENTS),
    stream: b.stream === true,
  };
}

/** What the prediction sends to the task route: a JSON body, plus URLs of input files still to be fetched. */
export interface TaskPayload {
  inputs: unknown;
  parameters: Record<string, unknown>;
  /** The `inputs` file is at this URL; it is fetched when the prediction runs. */
  fetch?: string;
}

const TEXT_FIELDS = ['prompt', 'text'] as const;

/** Checks `input` for a task's modality and maps it; throws 422 for what can never run. */
export function taskPayload(input: Record<string, unknown>, modality: InputModality): TaskPayload {
  if ('inputs' in input) {
    const { inputs, parameters } = input;
    if (inputs === null || inputs === undefined) throw new PredictionInputError('input.inputs must not be null');
    if (parameters !== undefined && (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))) {
      throw new PredictionInputError('input.parameters must be an object');
    }
    return { inputs, parameters: (parameters ?? {}) as Record<string, unknown> };
  }
  const rest: Record<string, unknown> = { ...input };
  if (modality === 'text') {
    const field = TEXT_FIELDS.find((f) => f in input);
    if (!field) throw new PredictionInputError('input.prompt is required (the text to run the model on), or give the task payload as input.inputs');
    const text = input[field];
    if (typeof text !== 'string' || text.length === 0) throw new PredictionInputError(`input.${field} must be a non-empty string`);
    delete rest[field];
    return { inputs: text, parameters: rest };
  }
  const field = modality;
  const value = input[field];
  if (typeof value !== 'string') throw new PredictionInputError(`input.${field} is required: the ${field} file as an http(s) URL or a data: URI`);
  delete rest[field];
  if (value.startsWith('data:')) {
    const m = /^data:([\w.+-]+\/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,([A-Za-z0-9+/]*={0,2})$/.exec(value);
    if (!m || m[2]!.length === 0) throw new PredictionInputError(`input.${field}: a data: URI must be base64 (data:<type>;base64,<bytes>)`);
    return { inputs: m[2], parameters: rest };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PredictionInputError(`input.${field} must be an http(s) URL or a data: URI`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PredictionInputError(`input.${field} must be an http(s) URL or a data: URI`);
  return { inputs: null, parameters: rest, fetch: url.toString() };
}
