/**
 * Error classes shared by every layer. Each carries a stable `code` and the HTTP status it maps to;
 * only src/server turns them into response bodies.
 */
export type ErrorCode =
  | 'bad_input'
  | 'bad_json'
  | 'unsupported_media_type'
  | 'not_acceptable'
  | 'payload_too_large'
  | 'model_not_found'
  | 'task_not_supported'
  | 'model_loading'
  | 'overloaded'
  | 'rate_limited'
  | 'inference_failed'
  | 'upstream_failed'
  | 'all_providers_failed'
  | 'provider_not_found'
  | 'unauthorized'
  | 'forbidden'
  | 'endpoint_not_found'
  | 'endpoint_conflict'
  | 'endpoint_unavailable'
  | 'replica_lost'
  | 'internal';

export class ModelhostError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra fields for the JSON body (e.g. `estimated_time`). */
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.extra = extra;
  }

  /** Plain form that survives postMessage between threads. */
  toJSON(): SerializedError {
    return { name: this.name, code: this.code, status: this.status, message: this.message, extra: this.extra };
  }
}

export interface SerializedError {
  name: string;
  code: ErrorCode;
  status: number;
  message: string;
  extra: Record<string, unknown>;
}

/** The caller sent something the task cannot take: always a 400 with a message that says what to send. */
export class InputError extends ModelhostError {
  constructor(message: string) {
    super('bad_input', 400, message);
  }
}

export class ModelNotFoundError extends ModelhostError {
  constructor(modelId: string) {
    super('model_not_found', 404, `Model ${modelId} does not exist. List the models served here with GET /api/models.`);
  }
}

export class TaskNotSupportedError extends ModelhostError {
  constructor(modelId: string, task: string, supported: string) {
    super('task_not_supported', 400, `Model ${modelId} does not support task ${task}. Supported task: ${supported}.`);
  }
}

export class ModelLoadingError extends ModelhostError {
  constructor(modelId: string, estimatedSeconds: number) {
    super('model_loading', 503, `Model ${modelId} is currently loading`, {
      estimated_time: Math.max(0.1, Math.round(estimatedSeconds * 10) / 10),
    });
  }
}

export class OverloadedError extends ModelhostError {
  constructor(message = 'Model is overloaded, retry later') {
    super('overloaded', 429, message);
  }
}

export class InferenceError extends ModelhostError {
  constructor(message: string) {
    super('inference_failed', 500, message);
  }
}

/** Rebuilds an error that crossed a thread boundary; unknown errors become a generic 500 without details. */
export function reviveError(e: unknown): ModelhostError {
  if (e instanceof ModelhostError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'status' in e && 'message' in e) {
    const s = e as SerializedError;
    return new ModelhostError(s.code, s.status, s.message, s.extra ?? {});
  }
  return new ModelhostError('internal', 500, 'Internal error while running the model');
}
