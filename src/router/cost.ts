/** Cost of a call from a price table and its usage, and the estimate the cheapest policy ranks by. */
import type { ProviderCall, Usage } from '../core/providers.ts';
import type { Price } from './config.ts';

export function costOf(price: Price, usage: Usage | undefined): number {
  const u = usage ?? {};
  return (
    (price.perRequest ?? 0) +
    ((price.inputPerMTokens ?? 0) * (u.inputTokens ?? 0)) / 1e6 +
    ((price.outputPerMTokens ?? 0) * (u.outputTokens ?? 0)) / 1e6 +
    (price.perOutput ?? 0) * (u.outputs ?? 0) +
    (price.perMegapixel ?? 0) * Math.ceil(u.megapixels ?? 0) +
    (price.perComputeSecond ?? 0) * (u.computeSeconds ?? 0)
  );
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

/** The usage a call will probably have, from what it asks for (tokens requested, image size). */
export function expectedUsage(call: Pick<ProviderCall, 'api' | 'task' | 'body'>, typicalSeconds: number): Usage {
  const body = call.body;
  const params = (body.parameters ?? {}) as Record<string, unknown>;
  const text = JSON.stringify(body.messages ?? body.prompt ?? body.input ?? body.inputs ?? '');
  const usage: Usage = { inputTokens: Math.ceil(text.length / 4), computeSeconds: typicalSeconds };
  usage.outputTokens = num(body.max_tokens) ?? num(body.max_completion_tokens) ?? num(params.max_new_tokens) ?? 256;
  if (call.task === 'text-to-image' || call.task === 'image-to-image') {
    usage.outputs = 1;
    usage.megapixels = ((num(params.width) ?? 1024) * (num(params.height) ?? 1024)) / 1e6;
  }
  return usage;
}
