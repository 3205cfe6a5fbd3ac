import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { ServerDeps } from './deps.ts';
import { sendError } from './errors.ts';
import { healthRoutes } from './routes/health.ts';
import { hubRoutes } from './routes/hub.ts';
import { hubFileRoutes } from './routes/hub-files.ts';
import { inferenceRoutes } from './routes/inference.ts';
import { completionsRoutes } from './routes/completions.ts';
import { embeddingsRoutes } from './routes/embeddings.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { providerRoutes } from './routes/providers.ts';
import { adminRoutes } from './routes/admin.ts';
import { endpointRoutes } from './routes/endpoints.ts';
import { endpointServingRoutes } from './routes/endpoint-serving.ts';
import { registerAccess } from './access.ts';
import { overheadMs } from './timing.ts';
import { letGoOfConnectionsOnClose } from './closing-connections.ts';
import { spacesRoutes } from './routes/spaces.ts';
import { gradioRoutes } from './routes/gradio.ts';
import { consoleRoutes } from './routes/console.ts';
import { modelPageRoutes } from './routes/model-page.ts';
import { predictionRoutes } from './routes/predictions.ts';
import { audioRoutes } from './routes/audio.ts';
import { audioSpeechRoutes } from './routes/audio-speech.ts';
import { RequestLog, registerRequestLog } from '../ui/server/request-log.ts';

export const exposedHeaders = [
  'x-compute-time',
  'x-compute-type',
  'x-compute-characters',
  'x-request-id',
  'x-cache',
  'retry-after',
  'x-modelhost-provider',
  'x-modelhost-overhead-ms',
  'x-modelhost-attempts',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  // The Hub file API's headers, which browser clients (transformers.js) must be able to read.
  'x-repo-commit',
  'x-error-code',
  'x-error-message',
  'x-linked-etag',
  'x-linked-size',
  'etag',
  'link',
  'accept-ranges',
  'content-range',
  'content-length',
];

export interface AppOptions {
  logger?: boolean | object;
  /** Serve only this dedicated endpoint, at the root of the app (an endpoint's own port). */
  endpointAtRoot?: string;
  /** The console's request log (else the app keeps its own). */
  requestLog?: RequestLog;
}

/** Builds the HTTP app from injected parts; it never constructs engines or repositories itself. */
export async function buildApp(deps: ServerDeps, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: deps.config.bodyLimitBytes,
    // Keep a caller's request id when it is a sane token; make one otherwise.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    // One log line per request costs throughput; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (it costs more than routing a proxied call); lines that need the request id
    // carry it themselves.
    childLoggerFactory: (logger) => logger,
    return503OnClosing: true,
    ...(opts.endpointAtRoot ? { rewriteUrl: (req: { url?: string }) => `/endpoints/${opts.endpointAtRoot}${req.url === '/' ? '' : (req.url ?? '')}` } : {}),
  });

  letGoOfConnectionsOnClose(app);

  // Every body arrives as bytes; src/server/body.ts decides what it is, so bad JSON gets our own 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // CORS for browsers: every origin may call (the API is token-protected, not cookie-protected).
  await app.register(cors, { origin: '*', exposedHeaders, maxAge: 600 });

  // Callback-style hooks: this runs on every call of the gateway's hot path, and async hooks cost a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    reply.header('x-compute-type', 'cpu');
    (request as { startedAt?: number }).startedAt = performance.now();
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    if (!reply.hasHeader('x-compute-time')) {
      const started = (request as { startedAt?: number }).startedAt ?? performance.now();
      reply.header('x-compute-time', ((performance.now() - started) / 1000).toFixed(3));
    }
    if (!reply.hasHeader('x-modelhost-provider')) reply.header('x-modelhost-provider', 'none');
    reply.header('x-modelhost-overhead-ms', overheadMs(request).toFixed(3));
    done(null, payload);
  });

  if (deps.access && !deps.access.off) registerAccess(app, deps.access);
  // Spaces and console (src/ui): the console's request log sees every call.
  const requestLog = opts.requestLog ?? new RequestLog();
  registerRequestLog(app, requestLog);

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `No route ${request.method} ${request.url.split('?')[0]}. See GET /api/models and the README.` }),
  );

  await app.register(healthRoutes(deps));
  await app.register(hubRoutes(deps));
  await app.register(hubFileRoutes(deps));
  await app.register(inferenceRoutes(deps));
  await app.register(completionsRoutes(deps));
  await app.register(embeddingsRoutes(deps));
  await app.register(providerRoutes(deps));
  await app.register(adminRoutes(deps));
  await app.register(endpointRoutes(deps));
  await app.register(endpointServingRoutes(deps));
  await app.register(metricsRoutes(deps));
  await app.register(spacesRoutes(deps, requestLog));
  await app.register(gradioRoutes(deps));
  await app.register(consoleRoutes(deps, requestLog));
  await app.register(modelPageRoutes(deps));
  await app.register(predictionRoutes(deps));
  await app.register(audioRoutes(deps));
  await app.register(audioSpeechRoutes(deps));
  return app;
}
