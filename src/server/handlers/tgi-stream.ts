/** TGI's token stream for a local text-generation call (`"stream": true` on the HF task routes). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { reviveError } from '../../core/errors.ts';
import type { GenerationOutput } from '../../core/tasks/text-generation.ts';
import type { ServerDeps } from '../deps.ts';
import { callerSignal } from '../routed.ts';
import { openSse, type SseStream } from '../sse.ts';

/**
 * TGI's stream: one `data:` event per token with `generated_text: null`; the last token's event carries the
 * whole text (and `details` when asked). No `[DONE]`. The stream opens with the first token, so an input the
 * model refuses is still a plain 4xx JSON answer; a failure after that arrives as an event with `error` and
 * `error_type`.
 */
export async function streamGeneration(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: ServerDeps,
  modelId: string,
  items: unknown[],
  params: Record<string, unknown>,
) {
  const model = deps.repository.get(modelId)!;
  let sse: SseStream | undefined;
  let held: Record<string, unknown> | undefined;
  // A caller who leaves stops the generation at its next step (the engine frees its slot in the batch).
  const signal = callerSignal(reply);
  try {
    const [output] = (await deps.engine.infer(model, 'text-generation', items, params, (event) => {
      sse ??= openSse(request, reply);
      if (held) sse.send(held);
      held = { ...(event as object), generated_text: null, details: null };
    }, signal)) as GenerationOutput[];
    sse ??= openSse(request, reply);
    const full = (params.return_full_text ? output!.prompt : '') + output!.text;
    const details = params.details
      ? { finish_reason: output!.finishReason, generated_tokens: output!.tokens.length, seed: output!.seed ?? null, input_length: output!.promptTokens }
      : null;
    sse.send({ ...(held ?? { index: 0, token: null }), generated_text: full, details });
  } catch (e) {
    if (!sse) throw e;
    const error = reviveError(e);
    sse.send({ error: error.message, error_type: error.status < 500 ? 'validation' : 'generation' });
  }
  sse.end();
}
