import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ModelhostError } from '../core/errors.ts';

/** OpenAI routes answer errors in OpenAI's shape; every other route in Hugging Face's `{"error": "..."}`. */
export function isOpenAiRoute(url: string): boolean {
  return /(^|\/)v1\/((chat\/)?completions|embeddings|models)|^\/v1\//.test(url.split('?')[0] ?? '');
}

/** Replicate's predictions API (src/server/routes/predictions.ts) answers errors as RFC 7807 problem documents. */
export function isReplicateRoute(url: string): boolean {
  return /^\/v1\/(?:predictions(?:\/|$)|models\/[^/]+\/[^/]+\/predictions$|deployments\/|webhooks\/|files\/)/.test(url.split('?')[0] ?? '');
}

const problemTitles: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  406: 'Not acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Invalid input',
  429: 'Too many requests',
};

const openAiTypes: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'invalid_request_error',
  406: 'invalid_request_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  429: 'rate_limit_error',
  502: 'upstream_error',
  503: 'service_unavailable',
};

/** The only place errors become response bodies. Never sends a stack trace or an internal message. */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let status = 500;
  let message = 'Internal error; the server log has details';
  let code = 'internal';
  let extra: Record<string, unknown> = {};
  if (error instanceof ModelhostError) {
    status = error.status;
    message = error.message;
    code = error.code;
    extra = error.extra;
  } else {
    const fe = error as FastifyError;
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      status = fe.statusCode;
      code = fe.code ?? 'bad_request';
      message =
        fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `The request body is larger than this server accepts (${reply.server.initialConfig.bodyLimit} bytes)`
          : fe.message;
    }
  }
  if (status >= 500 && !(error instanceof ModelhostError)) request.log.error({ err: error, reqId: request.id }, 'request failed');
  const retry = status === 503 && typeof extra.estimated_time === 'number' ? Math.ceil(extra.estimated_time) : status === 429 ? 1 : undefined;
  // A handler that knows better (a rate limit's window, a provider's hint) has set Retry-After already.
  if (retry !== undefined && !reply.hasHeader('retry-after')) reply.header('retry-after', String(retry));
  if (isReplicateRoute(request.url)) {
    return reply
      .code(status)
      .type('application/problem+json')
      .send({ title: problemTitles[status] ?? (status >= 500 ? 'Internal error' : 'Error'), detail: message, status });
  }
  reply.code(status).type('application/json; charset=utf-8');
  if (isOpenAiRoute(request.url)) {
    return reply.send({ error: { message, type: openAiTypes[status] ?? 'server_error', code, param: null } });
  }
  const { internal: _internal, ...shown } = extra;
  return reply.send({ error: message, ...shown });
}
