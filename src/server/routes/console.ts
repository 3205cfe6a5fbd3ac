/**
 * The admin console at `/admin`: the page shell is open (it holds no data); everything it shows comes from
 * admin-scoped JSON routes (`/api/...`, so the access hook asks for the `admin` scope): the existing tokens,
 * tiers, usage and providers APIs, the endpoints API, and the console's own routes below (overview, models
 * with preload/unload, the request log, bench reports).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ModelNotFoundError } from '../../core/errors.ts';
import { validate } from '../../core/tasks/index.ts';
import { providerView, type ServerDeps } from '../deps.ts';
import { sendPage } from '../../ui/server/assets.ts';
import { percentile, REQUEST_LOG, RequestLog, type RequestLogData } from '../../ui/server/request-log.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where `modelhost bench` writes its JSON results (MODELHOST_BENCH_DIR overrides). */
export function benchDir(): string {
  return process.env.MODELHOST_BENCH_DIR ?? path.join(repoRoot, 'perf', 'results');
}

const logQuery = z.object({
  status: z.enum(['all', 'ok', '4xx', '5xx']).default('all'),
  model: z.string().max(200).optional(),
  token: z.string().max(200).optional(),
  kind: z.enum(['all', 'inference', 'gradio', 'admin']).default('all'),
  limit: z.coerce.number().int().min(1).max(5000).default(200),
});

const overviewQuery = z.object({ minutes: z.coerce.number().int().min(5).max(1440).default(60) });

/** Figures worth a table found in a bench result: every object holding latency percentiles, with its path. */
function benchRows(value: unknown, at = '', depth = 0, out: { path: string; figures: Record<string, number> }[] = []) {
  if (!value || typeof value !== 'object' || depth > 6 || out.length > 200) return out;
  const o = value as Record<string, unknown>;
  if (typeof o.p50 === 'number' || typeof o.p95 === 'number') {
    const figures: Record<string, number> = {};
    for (const k of ['count', 'mean', 'p50', 'p95', 'p99', 'max']) if (typeof o[k] === 'number') figures[k] = o[k] as number;
    out.push({ path: at || '(root)', figures });
    return out;
  }
  for (const [k, v] of Object.entries(o)) {
    if (k === 'samples' || k === 'examples') continue;
    const name = Array.isArray(value) ? `${at}[${(v as { name?: string })?.name ?? k}]` : at ? `${at}.${k}` : k;
    benchRows(v, name, depth + 1, out);
  }
  return out;
}

export function consoleRoutes(deps: ServerDeps, own: RequestLog) {
  /** This process's log, or in a cluster the merge of every process's. */
  const current = async (): Promise<RequestLog> => (deps.collect ? RequestLog.merge((await deps.collect(REQUEST_LOG)).filter(Boolean) as RequestLogData[]) : own);
  return async function routes(app: FastifyInstance) {
    for (const url of ['/admin', '/admin/*']) {
      app.get(url, async (_request, reply) => sendPage(reply, { title: 'Console · modelhost', entry: 'web/console.tsx', bootstrap: { view: 'console' } }));
    }

    app.get('/api/console/whoami', async (request) => {
      const p = (request as { principal?: { name: string; anonymous: boolean; scopes: readonly string[] } }).principal;
      return { name: p?.name ?? 'anonymous', anonymous: p?.anonymous ?? true, scopes: p?.scopes ?? [], auth: deps.access ? (deps.access.off ? 'off' : 'on') : 'off' };
    });

    app.get('/api/console/overview', async (request) => {
      const q = validate(overviewQuery, request.query, 'query');
      const log = await current();
      const series = log.series(q.minutes).map((b) => {
        const l = [...b.latencies].sort((x, y) => x - y);
        return { minute: new Date(b.minute * 60_000).toISOString(), ok: b.ok, clientErrors: b.clientErrors, serverErrors: b.serverErrors, loading: b.loading, p50: percentile(l, 0.5), p95: percentile(l, 0.95), p99: percentile(l, 0.99) };
      });
      const buckets = log.series(q.minutes);
      const all = buckets.flatMap((b) => b.latencies).sort((x, y) => x - y);
      const total = buckets.reduce((n, b) => n + b.ok + b.clientErrors + b.serverErrors + b.loading, 0);
      const errors = buckets.reduce((n, b) => n + b.clientErrors + b.serverErrors, 0);
      const last5 = log.series(5).reduce((n, b) => n + b.ok + b.clientErrors + b.serverErrors + b.loading, 0);
      const loaded = deps.engine.loadedModels().filter((m) => m.state === 'ready');
      const models = deps.repository.list();
      const memoryUsed = loaded.reduce((n, m) => n + (deps.repository.get(m.id)?.sizeBytes ?? 0) * 1.5, 0);
      let costToday: number | null = null;
      let topModels: { model: string; requests: number; costUsd: number }[] = [];
      let topTokens: { token: string; requests: number; costUsd: number }[] = [];
      if (deps.access && !deps.access.off) {
        await deps.access.recorder.flush();
        const from = new Date(new Date().toISOString().slice(0, 10));
        const byModel = await deps.access.usage.aggregate({ by: ['model'], from });
        const byToken = await deps.access.usage.aggregate({ by: ['token'], from });
        costToday = byModel.reduce((n, r) => n + r.costUsd, 0);
        topModels = byModel.filter((r) => r.model).sort((a, b) => b.requests - a.requests).slice(0, 10).map((r) => ({ model: r.model!, requests: r.requests, costUsd: r.costUsd }));
        const names = new Map((await deps.access.tokens.list()).map((t) => [t.id, t.name]));
        topTokens = byToken.sort((a, b) => b.requests - a.requests).slice(0, 10).map((r) => ({ token: r.token ? `${names.get(r.token) ?? '?'} (${r.token})` : 'anonymous', requests: r.requests, costUsd: r.costUsd }));
      }
      return {
        kpis: {
          requestsPerSecond: last5 / 300,
          requests: total,
          p50: percentile(all, 0.5),
          p95: percentile(all, 0.95),
          p99: percentile(all, 0.99),
          errorRate: total ? errors / total : 0,
          modelsLoaded: loaded.length,
          modelsTotal: models.length,
          memoryUsedBytes: memoryUsed,
          memoryRssBytes: process.memoryUsage().rss,
          costTodayUsd: costToday,
        },
        series,
        topModels,
        topTokens,
      };
    });

    app.get('/api/console/models', async () => {
      const log = await current();
      const loaded = new Map(deps.engine.loadedModels().map((m) => [m.id, m]));
      const c = deps.engine.counters;
      const now = Date.now();
      return {
        meanBatchSize: c.batches ? c.items / c.batches : null,
        models: deps.repository.list().map((m) => {
          const slot = loaded.get(m.id);
          const lat = log.modelLatency(m.id);
          const counts = log.counts.get(m.id);
          return {
            id: m.id,
            task: m.pipelineTag,
            runtime: m.runtime,
            state: deps.engine.state(m.id),
            queued: slot?.queued ?? 0,
            memoryBytes: slot ? m.sizeBytes * 1.5 : 0,
            sizeBytes: m.sizeBytes,
            lastUsed: log.lastUsed.has(m.id) ? new Date(log.lastUsed.get(m.id)!).toISOString() : null,
            idleSeconds: log.lastUsed.has(m.id) ? (now - log.lastUsed.get(m.id)!) / 1000 : null,
            requests: counts?.requests ?? 0,
            errors: counts?.errors ?? 0,
            p50: lat.p50,
            p95: lat.p95,
          };
        }),
      };
    });

    app.post<{ Params: { '*': string } }>('/api/console/models/*', async (request, reply) => {
      const parts = request.params['*'].split('/');
      const action = parts.pop();
      const id = parts.join('/');
      const model = deps.repository.get(id);
      if (!model) throw new ModelNotFoundError(id);
      if (action === 'preload') {
        await deps.engine.preload(model);
        return { id, state: deps.engine.state(id) };
      }
      if (action === 'unload') {
        deps.engine.unload(id);
        return { id, state: deps.engine.state(id) };
      }
      return reply.code(404).send({ error: `No action ${action ?? ''}: use POST /api/console/models/{id}/preload or /unload` });
    });

    app.get('/api/console/failovers', async () => ({
      failovers: [...((await providerView(deps))?.failovers ?? new Map<string, number>())].map(([key, count]) => {
        const [from, to] = key.split('\u2192');
        return { from, to, count };
      }),
    }));

    app.get('/api/console/log', async (request) => {
      const q = validate(logQuery, request.query, 'query');
      const log = await current();
      const rows = log.calls.filter(
        (c) =>
          (q.kind === 'all' || c.kind === q.kind) &&
          (q.status === 'all' || (q.status === 'ok' ? c.status < 400 : q.status === '4xx' ? c.status >= 400 && c.status < 500 : c.status >= 500)) &&
          (!q.model || c.model.includes(q.model)) &&
          (!q.token || c.token.includes(q.token)),
      );
      return { total: rows.length, calls: rows.slice(-q.limit).reverse().map((c) => ({ ...c, at: new Date(c.at).toISOString() })) };
    });

    app.get('/api/console/bench', async () => {
      const dir = benchDir();
      if (!existsSync(dir)) return { dir, files: [] };
      const files = readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => {
          const st = statSync(path.join(dir, f));
          return { name: f, bytes: st.size, modified: st.mtime.toISOString() };
        })
        .sort((a, b) => b.modified.localeCompare(a.modified));
      return { dir, files };
    });

    app.get<{ Params: { name: string } }>('/api/console/bench/:name', async (request, reply) => {
      const name = request.params.name;
      const file = path.join(benchDir(), name);
      if (!/^[\w.:-]+\.json$/.test(name) || !existsSync(file)) return reply.code(404).send({ error: `No bench result ${name}` });
      let data: unknown;
      try {
        data = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        return reply.code(422).send({ error: `${name} is not valid JSON` });
      }
      const d = data as Record<string, unknown>;
      return { name, schema: d.schema ?? null, startedAt: d.startedAt ?? null, rows: benchRows(data), data };
    });
  };
}
