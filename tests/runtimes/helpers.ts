import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ModelInfo } from '../../src/core/model.ts';
import type { TaskId } from '../../src/core/tasks/index.ts';

/** A ModelInfo for a built-in model folder, with runtimeOptions straight from its modelhost.json. */
export function builtinModel(id: string, pipelineTag: TaskId, overrides: Partial<ModelInfo> = {}): ModelInfo {
  const dir = fileURLToPath(new URL(`../../builtin-models/${id}/`, import.meta.url));
  const options = JSON.parse(readFileSync(`${dir}modelhost.json`, 'utf8')) as Record<string, unknown>;
  return {
    id,
    dir,
    pipelineTag,
    libraryName: 'test',
    runtime: String(options.runtime),
    tags: [],
    files: ['README.md', 'modelhost.json'],
    sizeBytes: 0,
    runtimeOptions: options,
    ...overrides,
  };
}

/** Awaits a promise that must reject, and returns the error for further checks. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error;
}
