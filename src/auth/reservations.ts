/**
 * Reserve-before, settle-after state for the two limits that a fixed window cannot express:
 * concurrency slots and the monthly budget. Every reservation carries an expiry, so an instance
 * that dies between reserve and settle leaves nothing held for longer than the reservation TTL.
 *
 * Amounts are integer nano-USD: comparing `spent + reserved + expected <= budget` on sums of
 * floats would refuse or admit the last request of a budget depending on rounding noise.
 * This file holds the interface and the in-memory store; the Redis store is in
 * `reservations-redis.ts`.
 */

export const NANO_PER_USD = 1e9;

/** USD to integer nano-USD (negative and non-finite amounts count as 0). */
export function toNano(usd: number): number {
  return Number.isFinite(usd) && usd > 0 ? Math.round(usd * NANO_PER_USD) : 0;
}

export interface ReservationStore {
  /** Takes a concurrency slot unless `limit` unexpired slots are held. */
  takeSlot(subject: string, id: string, limit: number, ttlMs: number): Promise<boolean>;
  freeSlot(subject: string, id: string): Promise<void>;
  /** Reserves `amount` unless spent ≥ budget or spent + reserved + amount > budget (all nano-USD). */
  reserveBudget(subject: string, id: string, amount: number, budget: number, ttlMs: number, month: string): Promise<BudgetCheck>;
  /** Drops the reservation and adds `spent` (nano-USD, may be 0) to the month's spend. */
  settleBudget(subject: string, id: string, amount: number, spent: number, month: string): Promise<void>;
  budget(subject: string, month: string): Promise<{ spent: number; reserved: number }>;
  close(): Promise<void>;
}

export interface BudgetCheck {
  ok: boolean;
  spent: number;
  reserved: number;
}

/** One process's reservations, in Maps; `now` is the clock that expires them. */
export function createMemoryReservations(now: () => number): ReservationStore {
  /**
   * Reservations of one subject with their sum and the earliest expiry, so that the common case (nothing has
   * expired) costs no scan: entries are purged only once the earliest of them is due.
   */
  interface Ledger {
    entries: Map<string, { amount: number; expiresAt: number }>;
    total: number;
    nextExpiry: number;
  }
  const slots = new Map<string, Ledger>();
  const holds = new Map<string, Ledger>();
  const spent = new Map<string, number>(); // `${month}\n${subject}` → nano-USD

  function live(map: Map<string, Ledger>, subject: string): Ledger {
    let l = map.get(subject);
    if (!l) map.set(subject, (l = { entries: new Map(), total: 0, nextExpiry: Infinity }));
    const t = now();
    if (t >= l.nextExpiry) {
      l.nextExpiry = Infinity;
      for (const [id, v] of l.entries) {
        if (v.expiresAt <= t) {
          l.entries.delete(id);
          l.total -= v.amount;
        } else if (v.expiresAt < l.nextExpiry) l.nextExpiry = v.expiresAt;
      }
    }
    return l;
  }
  function add(l: Ledger, id: string, amount: number, expiresAt: number) {
    l.entries.set(id, { amount, expiresAt });
    l.total += amount;
    if (expiresAt < l.nextExpiry) l.nextExpiry = expiresAt;
  }
  function remove(l: Ledger | undefined, id: string) {
    const v = l?.entries.get(id);
    if (!l || !v) return;
    l.entries.delete(id);
    l.total -= v.amount;
  }
  const reservedOf = (subject: string) => live(holds, subject).total;

  return {
    async takeSlot(subject, id, limit, ttlMs) {
      const l = live(slots, subject);
      if (l.entries.size >= limit) return false;
      add(l, id, 0, now() + ttlMs);
      return true;
    },
    async freeSlot(subject, id) {
      remove(slots.get(subject), id);
    },
    async reserveBudget(subject, id, amount, budget, ttlMs, month) {
      const s = spent.get(`${month}\n${subject}`) ?? 0;
      const reserved = reservedOf(subject);
      if (s >= budget || s + reserved + amount > budget) return { ok: false, spent: s, reserved };
      add(live(holds, subject), id, amount, now() + ttlMs);
      return { ok: true, spent: s, reserved };
    },
    async settleBudget(subject, id, _amount, used, month) {
      remove(holds.get(subject), id);
      if (used !== 0) spent.set(`${month}\n${subject}`, (spent.get(`${month}\n${subject}`) ?? 0) + used);
    },
    async budget(subject, month) {
      return { spent: spent.get(`${month}\n${subject}`) ?? 0, reserved: reservedOf(subject) };
    },
    async close() {},
  };
}
