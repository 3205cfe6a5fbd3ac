import { ModelNotFoundError, TaskNotSupportedError } from '../core/errors.ts';
import type { ModelInfo } from '../core/model.ts';
import { taskSpec, tasksServedBy, type EngineRequest, type TaskId, type TaskSpec } from '../core/tasks/index.ts';
import type { RequestOptions } from './body.ts';
import type { ServerDeps } from './deps.ts';
import type { CancelSignal } from '../engine/generation/index.ts';

export function modelTasks(model: ModelInfo): TaskId[] {
  return tasksServedBy(model.pipelineTag);
}

export function resolveModel(deps: ServerDeps, id: string, task?: TaskId): { model: ModelInfo; spec: TaskSpec } {
  const model = deps.repository.get(id);
  if (!model) throw new ModelNotFoundError(id);
  const chosen = task ?? model.pipelineTag;
  if (!modelTasks(model).includes(chosen)) throw new TaskNotSupportedError(id, chosen, modelTasks(model).join(', '));
  return { model, spec: taskSpec(chosen) };
}

/** The JS client re-sends a 503 at once and without limit, so its requests are held instead (README: cold starts). */
function retriesWithoutLimit(userAgent: string | undefined): boolean {
  return /@huggingface\/inference/.test(userAgent ?? '');
}

/** How long to hold a request for a cold model. */
export function waitBudgetMs(deps: ServerDeps, options: RequestOptions, headers: Record<string, string | string[] | undefined>): number {
  const max = deps.config.maxWaitForModelMs;
  const scaleUp = Number(headers['x-scale-up-timeout']);
  if (Number.isFinite(scaleUp) && scaleUp > 0) return Math.min(scaleUp * 1000, max);
  if (options.waitForModel === true) return max;
  if (options.waitForModel === false) return 0;
  if (retriesWithoutLimit(headers['user-agent'] as string | undefined)) return max;
  return deps.config.waitForModelByDefault ? max : 0;
}

/** Makes sure the model is loaded, holding the request as long as the cold-start policy allows (else a 503). */
export function awaitModel(
  deps: ServerDeps,
  model: ModelInfo,
  options: RequestOptions,
  headers: Record<string, string | string[] | undefined>,
): Promise<void> {
  return deps.engine.ensureReady(model, waitBudgetMs(deps, options, headers));
}

export interface InferenceResult {
  body: unknown;
  cached: boolean;
  computeMs: number;
}

/** Runs a parsed request: cold-start policy, response cache, engine. `signal` stops a generation whose caller left. */
export async function infer(
  deps: ServerDeps,
  model: ModelInfo,
  spec: TaskSpec,
  req: EngineRequest,
  options: RequestOptions,
  headers: Record<string, string | string[] | undefined>,
  signal?: CancelSignal,
): Promise<InferenceResult> {
  const useCache = deps.cache.enabled && options.useCache !== false && (spec.cacheable?.(req.params) ?? true);
  const key = useCache ? deps.cache.key(model.id, spec.id, req.items, req.params) : '';
  if (useCache) {
    const hit = deps.cache.get(key);
    if (hit !== undefined) return { body: hit, cached: true, computeMs: 0 };
  }
  await awaitModel(deps, model, options, headers);
  const started = performance.now();
  const outputs = await deps.engine.infer(model, spec.id, req.items, req.params, undefined, signal);
  const body = spec.respond(outputs, req);
  if (useCache) deps.cache.set(key, body);
  return { body, cached: false, computeMs: performance.now() - started };
}
