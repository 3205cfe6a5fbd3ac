/**
 * Webhooks signed as Replicate signs them (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature` over `<id>.<timestamp>.<body>`, one secret per owner from
 * `GET /v1/webhooks/default/secret`). The terminal event is durable: its `pending` state is written with the
 * terminal status (src/store/predictions.ts), and any instance delivers it, retrying with exponential backoff
 * until it is acknowledged (2xx) or `retryForMs` has passed since completion: at least once. `start`,
 * `output` and `logs` events are sent by the instance running the prediction with a few quick retries and are
 * not kept across restarts (they are superseded by later events, as on Replicate); `output` and `logs` are
 * throttled to one request each per `throttleMs`. Every attempt is recorded for the owner to see.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { request, type Dispatcher } from 'undici';
import type { PredictionStore } from '../store/predictions.ts';
import { checkTarget, guardedAgent } from './address-guard.ts';
import { toApi, type PredictionRow, type WebhookEvent } from './types.ts';

export interface WebhookOptions {
  allowPrivate: boolean;
  /** How long after completion the terminal event is still retried (`--webhook-retry-for`). */
  retryForMs: number;
  /** First retry delay; doubled per attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** How often due deliveries are looked for. */
  pollMs: number;
  /** Least time between two `output`/`logs` events of one prediction. */
  throttleMs: number;
  timeoutMs: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = {
  allowPrivate: false,
  retryForMs: 3_600_000,
  baseDelayMs: 1_000,
  maxDelayMs: 300_000,
  pollMs: 500,
  throttleMs: 500,
  timeoutMs: 10_000,
};

const MAX_REDIRECTS = 3;

export class Webhooks {
  private readonly agent: Dispatcher;
  private readonly secrets = new Map<string, Promise<string>>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;
  private readonly lastSent = new Map<string, { at: number; timer?: NodeJS.Timeout; next?: () => void }>();

  constructor(
    private readonly store: PredictionStore,
    private readonly publicUrl: () => string,
    readonly opts: WebhookOptions,
    private readonly log: (message: string) => void = () => undefined,
  ) {
    this.agent = guardedAgent(opts.allowPrivate);
  }

  /** The owner's signing secret, `whsec_<base64>`, shared by every instance on the database. */
  secretFor(owner: string): Promise<string> {
    let s = this.secrets.get(owner);
    if (!s) {
      s = this.store.secret(`webhook:${owner}`, () => `whsec_${randomBytes(32).toString('base64')}`);
      s.catch(() => this.secrets.delete(owner));
      this.secrets.set(owner, s);
    }
    return s;
  }

  start(): void {
    const tick = () => {
      if (this.closed) return;
      void this.deliverDue().finally(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.opts.pollMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const t of this.lastSent.values()) clearTimeout(t.timer);
    await this.agent.close().catch(() => undefined);
  }

  /** Delivers the terminal events that are due (any instance's), one lease each. */
  async deliverDue(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        const now = Date.now();
        const rows = await this.store.leaseWebhooks(now, now + this.opts.timeoutMs * (MAX_REDIRECTS + 2), 32);
        if (rows.length === 0) return;
        await Promise.all(rows.map((row) => this.deliverTerminal(row)));
        if (this.closed) return;
      }
    } catch (e) {
      this.log(`webhook delivery: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async deliverTerminal(row: PredictionRow): Promise<void> {
    // As on Replicate, a filter without `completed` (say, only `logs`) asked for no terminal event.
    if (!row.webhookEvents.includes('completed')) return this.store.settleWebhook(row.id, null, null);
    const ok = await this.send(row, 'completed');
    if (ok) return this.store.settleWebhook(row.id, 'delivered', null);
    const now = Date.now();
    const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.max(0, row.webhookAttempts - 1));
    if (now + delay - (row.completedAt ?? now) > this.opts.retryForMs) return this.store.settleWebhook(row.id, 'failed', null);
    return this.store.settleWebhook(row.id, 'pending', now + delay);
  }

  /** `start` / `output` / `logs`, when the prediction asked for them; `output` and `logs` throttled. */
  event(row: PredictionRow, event: Exclude<WebhookEvent, 'completed'>, current: () => PredictionRow): void {
    if (!row.webhook || !row.webhookEvents.includes(event)) return;
    if (event === 'start') return void this.sendWithRetries(row, event);
    // Each event its own window: a burst of tokens does not hold back the logs, nor the logs the output.
    const key = `${row.id}:${event}`;
    const state = this.lastSent.get(key) ?? { at: 0 };
    this.lastSent.set(key, state);
    const fire = () => {
      state.at = Date.now();
      state.timer = undefined;
      void this.sendWithRetries(current(), event);
    };
    const wait = state.at + this.opts.throttleMs - Date.now();
    if (wait <= 0) return fire();
    // Within the window: one trailing event carries whatever is newest when the window ends.
    state.timer ??= setTimeout(fire, wait);
  }

  /** Stops the throttled events of a prediction that ended (its terminal event says everything). */
  forget(id: string): void {
    for (const event of ['output', 'logs']) {
      clearTimeout(this.lastSent.get(`${id}:${event}`)?.timer);
      this.lastSent.delete(`${id}:${event}`);
    }
  }

  private async sendWithRetries(row: PredictionRow, event: WebhookEvent): Promise<void> {
    for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
      if (await this.send(row, event)) return;
      await new Promise((r) => setTimeout(r, this.opts.baseDelayMs * 2 ** attempt));
    }
  }

  /** One signed POST (following redirects under the same address policy); records the attempt. */
  private async send(row: PredictionRow, event: WebhookEvent): Promise<boolean> {
    const started = performance.now();
    const at = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const body = JSON.stringify(toApi(row, this.publicUrl()));
      // One id per event of a prediction: retries carry the same id, so receivers can drop duplicates.
      const id = `${row.id}-${event}${event === 'completed' ? '' : `-${at}`}`;
      const secret = await this.secretFor(row.owner);
      const timestamp = new Date();
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'modelhost-webhooks',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, timestamp, body),
      };
      let url = new URL(row.webhook!);
      for (let hop = 0; ; hop++) {
        await checkTarget(url, this.opts.allowPrivate);
        const res = await request(url, { method: 'POST', headers, body, dispatcher: this.agent, headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs });
        await res.body.dump().catch(() => undefined);
        status = res.statusCode;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && typeof location === 'string' && hop < MAX_REDIRECTS) {
          url = new URL(location, url);
          continue;
        }
        break;
      }
      if (status < 200 || status >= 300) error = `the receiver answered ${status}`;
    } catch (e) {
      error = (e as Error).message || String((e as { code?: string }).code ?? e);
    }
    await this.store.addAttempt(row.id, { event, at, status, error, durationMs: performance.now() - started }).catch(() => undefined);
    return error === null;
  }
}
