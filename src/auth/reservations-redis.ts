/**
 * Concurrency slots and budget reservations in Redis, shared by every instance on the same Redis
 * and key prefix. Each check-and-take is one Lua script, so no two instances can both pass a check
 * that only one of them fits in (the LiteLLM budget race: check, then record spend later).
 *
 * Keys (P = key prefix, S = subject, M = UTC month `YYYY-MM`):
 * - `P:slots:S`           ZSET, member = admission id, score = expiry (ms, Redis clock)
 * - `P:budget:held:S`     ZSET, member = `id:nanoUsd`, score = expiry (ms, Redis clock)
 * - `P:budget:spent:M:S`  integer nano-USD spent in month M
 *
 * Expiry uses the Redis server clock (`TIME`), not the instances' clocks, so instances whose
 * clocks disagree still expire reservations at the same moment.
 */
import type { Redis } from 'ioredis';
import type { BudgetCheck, ReservationStore } from './reservations.ts';

/** Keep a month's spend counter this long after its last write (long enough for reports). */
const SPENT_KEY_TTL_MS = 62 * 24 * 3600 * 1000;

const NOW_MS = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: slots. ARGV: id, limit, ttlMs. Returns 1 when the slot was taken. */
const TAKE_SLOT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** Sum of live holds after purging expired ones; shared by reserve and read. */
const HELD = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local reserved = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do reserved = reserved + tonumber(string.match(m, ':(%d+)$')) end
local spent = tonumber(redis.call('GET', KEYS[2]) or '0')`;

/** KEYS: held, spent. ARGV: id, amount, budget, ttlMs. Returns {ok, spent, reserved}. */
const RESERVE_BUDGET = `${HELD}
local amount = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
if spent >= budget or spent + reserved + amount > budget then return {0, spent, reserved} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1] .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, spent, reserved}`;

/** KEYS: held, spent. Returns {spent, reserved}. */
const READ_BUDGET = `${HELD}
return {spent, reserved}`;

/** KEYS: held, spent. ARGV: member, spent, spentTtlMs. */
const SETTLE_BUDGET = `redis.call('ZREM', KEYS[1], ARGV[1])
local n = tonumber(ARGV[2])
if n ~= 0 then
  redis.call('INCRBY', KEYS[2], n)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1`;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

export function createRedisReservations(redis: Redis, prefix: string): ReservationStore {
  const scripts = { mhTakeSlot: TAKE_SLOT, mhReserveBudget: RESERVE_BUDGET, mhReadBudget: READ_BUDGET, mhSettleBudget: SETTLE_BUDGET };
  for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys: name === 'mhTakeSlot' ? 1 : 2, lua });
  // defineCommand adds methods ioredis cannot type; EVALSHA with an EVAL fallback under the hood.
  const run = (name: keyof typeof scripts): ScriptCall => {
    const fn = (redis as unknown as Record<string, ScriptCall>)[name];
    if (!fn) throw new TypeError(`Redis script ${name} is not defined`);
    return fn.bind(redis);
  };
  const [takeSlot, reserveBudget, readBudget, settleBudget] = [run('mhTakeSlot'), run('mhReserveBudget'), run('mhReadBudget'), run('mhSettleBudget')];
  const slotsKey = (s: string) => `${prefix}:slots:${s}`;
  const heldKey = (s: string) => `${prefix}:budget:held:${s}`;
  const spentKey = (s: string, month: string) => `${prefix}:budget:spent:${month}:${s}`;
  const nums = (v: unknown) => (v as (number | string)[]).map(Number);

  return {
    async takeSlot(subject, id, limit, ttlMs) {
      return Number(await takeSlot(slotsKey(subject), id, limit, Math.max(1, Math.round(ttlMs)))) === 1;
    },
    async freeSlot(subject, id) {
      await redis.zrem(slotsKey(subject), id);
    },
    async reserveBudget(subject, id, amount, budget, ttlMs, month): Promise<BudgetCheck> {
      const r = nums(await reserveBudget(heldKey(subject), spentKey(subject, month), id, amount, budget, Math.max(1, Math.round(ttlMs))));
      return { ok: r[0] === 1, spent: r[1] ?? 0, reserved: r[2] ?? 0 };
    },
    async settleBudget(subject, id, amount, spent, month) {
      await settleBudget(heldKey(subject), spentKey(subject, month), `${id}:${amount}`, spent, SPENT_KEY_TTL_MS);
    },
    async budget(subject, month) {
      const r = nums(await readBudget(heldKey(subject), spentKey(subject, month)));
      return { spent: r[0] ?? 0, reserved: r[1] ?? 0 };
    },
    async close() {},
  };
}
