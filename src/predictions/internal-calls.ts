/**
 * The seam between predictions and models. A prediction runs as a call of the same HF task route a caller
 * would use (`POST /models/{id}`, `POST /endpoints/{name}`), on a second instance of the app that has no
 * access layer (tiers were applied at submission, and the prediction records its own usage once) and listens
 * on loopback only, refusing any call without this process's secret. Going through real HTTP keeps every
 * behaviour of the route (local engine, router and providers, dedicated endpoints, cold starts, streams), and
 * closing the connection is the route's own cancel: the handler's caller signal stops a local generation at
 * its next step and a routed job through the provider's cancel.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Pool } from 'undici';
import type { CallUsage } from '../server/access.ts';

export const INTERNAL_HEADER = 'x-modelhost-internal';

export class InternalCalls {
  readonly secret = randomBytes(24).toString('hex');
  private readonly waiting = new Map<string, (usage: CallUsage | undefined) => void>();
  private base: string | undefined;
  private pool: Pool | undefined;

  /** Guards the internal app and reports what each call used (the handlers' noteUsage) once it is over. */
  attach(app: FastifyInstance): void {
    const secret = Buffer.from(this.secret);
    app.addHook('onRequest', (request, reply, done) => {
      const given = Buffer.from(String(request.headers[INTERNAL_HEADER] ?? ''));
      if (given.length !== secret.length || !timingSafeEqual(given, secret)) {
        void reply.code(403).send({ error: 'This port serves modelhost itself only.' });
        return;
      }
      reply.raw.once('close', () => {
        const resolve = this.waiting.get(request.id);
        this.waiting.delete(request.id);
        resolve?.((request as { callUsage?: CallUsage }).callUsage);
      });
      done();
    });
  }

  listening(base: string): void {
    this.base = base;
    this.pool = new Pool(base, { headersTimeout: 0, bodyTimeout: 0 });
  }

  /**
   * The connections to the internal app: its own, so that closing drops them. Through a shared agent, a kept-alive
   * connection could hold the internal app's close until its keep-alive timeout (72 s).
   */
  get dispatcher(): Pool {
    if (!this.pool) throw new Error('the internal app is not listening yet');
    return this.pool;
  }

  /** After the workers stopped: nothing is in flight that should finish. */
  async close(): Promise<void> {
    await this.pool?.destroy().catch(() => undefined);
  }

  url(path: string): string {
    if (!this.base) throw new Error('the internal app is not listening yet');
    return this.base + path;
  }

  /** Resolves with the call's usage when its response is over (undefined if the route noted none). */
  usageOf(requestId: string, timeoutMs = 2_000): Promise<CallUsage | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(requestId);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(requestId, (u) => {
        clearTimeout(timer);
        resolve(u);
      });
    });
  }
}
