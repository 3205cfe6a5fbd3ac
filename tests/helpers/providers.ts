/** What the adapter contract tests share: calls, the failure they must end with, the bytes they must answer. */
import { expect } from 'vitest';
import { UpstreamError, type CallSignal, type ProviderCall, type ProviderResult } from '../../src/core/providers.ts';

/** Settles a call that must fail, and returns its UpstreamError (a call that succeeds fails the test). */
export async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const e = await promise.then(
    () => new Error('expected the call to fail'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

export function bytesOf(result: ProviderResult) {
  if (result.kind !== 'bytes') throw new Error(`expected bytes, got ${result.kind}`);
  return result;
}

/** A Hugging Face text-to-image call as the router hands it to an adapter. */
export function textToImageCall(
  providerModel: string,
  prompt: string,
  parameters: Record<string, unknown> = {},
  signal: CallSignal = new AbortController().signal,
): ProviderCall {
  return {
    api: 'task',
    model: 'black-forest-labs/FLUX.1-dev',
    providerModel,
    task: 'text-to-image',
    body: { inputs: prompt, parameters },
    stream: false,
    signal,
    requestId: 'req-1',
  };
}
