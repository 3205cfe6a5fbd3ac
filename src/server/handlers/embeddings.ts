/**
 * OpenAI embeddings on a local feature-extraction model. Used by the OpenAI routes (when no provider is asked
 * for) and by dedicated endpoints' `/v1/embeddings`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import { nonEmptyText, validate } from '../../core/tasks/index.ts';
import { throwItemErrors } from '../../core/tasks/item-error.ts';
import { parseJsonObject, withHeaderOptions } from '../body.ts';
import type { ServerDeps } from '../deps.ts';
import { awaitModel, resolveModel } from '../inference.ts';
import { noteUsage } from '../access.ts';

const embeddingsBody = z.object({
  model: z.string({ error: 'required: the id of an embedding model (see GET /v1/models)' }).min(1),
  input: z.union([nonEmptyText, z.array(nonEmptyText).min(1).max(256)], {
    error: 'expected a non-empty string or a list of strings (token arrays are not accepted)',
  }),
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

/** A float32 vector as OpenAI's base64 encoding: little-endian bytes. */
function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

/**
 * OpenAI embeddings on a feature-extraction model: one unit-length vector per input (the model's sentence
 * pooling, mean for a plain encoder), batched with the model's other requests.
 */
export async function handleEmbeddings(deps: ServerDeps, request: FastifyRequest, reply: FastifyReply) {
  const body = validate(embeddingsBody, parseJsonObject(request.body as Buffer | undefined), 'body');
  const { model } = resolveModel(deps, body.model, 'feature-extraction');
  const inputs = typeof body.input === 'string' ? [body.input] : body.input;
  await awaitModel(deps, model, withHeaderOptions({}, request.headers), request.headers);
  const outputs = await deps.engine.infer(model, 'feature-extraction', inputs, {
    normalize: true,
    truncate: true,
    sentence: true,
    count_tokens: true,
  });
  throwItemErrors(outputs);
  const results = outputs as { embedding: number[]; tokens: number }[];
  const width = results[0]?.embedding.length ?? 0;
  if (body.dimensions !== undefined && body.dimensions !== width) {
    throw new InputError(`body.dimensions: ${model.id} gives ${width}-dimensional embeddings and cannot shorten them`);
  }
  const tokens = results.reduce((n, r) => n + r.tokens, 0);
  noteUsage(request, { provider: 'local', model: model.id, task: 'embeddings', costUsd: 0, inputTokens: tokens });
  return reply.type('application/json; charset=utf-8').send({
    object: 'list',
    data: results.map((r, index) => ({
      object: 'embedding',
      index,
      embedding: body.encoding_format === 'base64' ? toBase64(r.embedding) : r.embedding,
    })),
    model: model.id,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}
