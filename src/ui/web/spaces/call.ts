/** How a Space page calls its model, and what one run gives back. */
import type { SpaceInfo, SpaceTask } from '../../server/catalog.ts';
import { authHeaders, readJson } from '../lib.ts';
import type { Inputs } from './inputs.ts';

export interface RunResult {
  json: unknown;
  computeTime: string | null;
  cached: boolean;
  task: SpaceTask;
  inputs: Inputs;
  duration?: number;
}

export function modelUrl(space: SpaceInfo, task: SpaceTask): string {
  return task === space.task ? `/models/${space.id}` : `/pipeline/${task}/${space.id}`;
}

/**
 * One call with the widgets' cold-start flow: first without waiting; on a 503 with `estimated_time` show the
 * loading bar and send it again held (`x-wait-for-model: true`) until the model is ready.
 */
export async function callModel(url: string, body: BodyInit, type: string, signal: AbortSignal, onLoading: (s: number | undefined) => void): Promise<Response> {
  const send = (wait: boolean) => fetch(url, { method: 'POST', body, signal, headers: { 'content-type': type, 'x-wait-for-model': String(wait), ...authHeaders() } });
  let res = await send(false);
  if (res.status === 503) {
    const b = (await readJson(res.clone())) as { estimated_time?: number } | undefined;
    if (b && typeof b.estimated_time === 'number') {
      onLoading(b.estimated_time);
      try {
        res = await send(true);
      } finally {
        onLoading(undefined);
      }
    }
  }
  return res;
}
