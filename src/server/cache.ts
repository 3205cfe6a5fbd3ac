import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import stringify from 'safe-stable-stringify';

/** In-memory response cache keyed on model, task and the canonical payload (file bytes by hash). */
export class ResponseCache {
  private readonly lru: LRUCache<string, { body: unknown }> | undefined;

  /** `maxEntries` 0 turns the cache off: nothing is hashed or kept. */
  constructor(maxEntries: number, ttlMs: number) {
    this.lru = maxEntries > 0 ? new LRUCache({ max: maxEntries, ttl: ttlMs > 0 ? ttlMs : undefined }) : undefined;
  }

  get enabled(): boolean {
    return this.lru !== undefined;
  }

  key(modelId: string, task: string, items: unknown[], params: Record<string, unknown>): string {
    const hash = createHash('sha256');
    hash.update(`${modelId}\u0000${task}\u0000${stringify(params)}\u0000`);
    for (const item of items) {
      if (item && typeof item === 'object' && (item as { data?: unknown }).data instanceof Uint8Array) {
        hash.update((item as { data: Uint8Array }).data);
        hash.update(`\u0000${(item as { contentType?: string }).contentType ?? ''}`);
      } else hash.update(stringify(item) ?? '');
      hash.update('\u0001');
    }
    return hash.digest('hex');
  }

  get(key: string): unknown {
    return this.lru?.get(key)?.body;
  }

  set(key: string, body: unknown): void {
    this.lru?.set(key, { body });
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
