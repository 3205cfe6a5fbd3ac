/** The test Redis (started by the test run's global setup unless MODELHOST_TEST_REDIS is set). */
export { TEST_REDIS_URL } from '../auth/fixtures/redis.ts';

/** A Redis database number no other test of this run is likely to use, so BullMQ queues never meet. */
export function freePrefix(): string {
  return String(1 + Math.floor(Math.random() * 15));
}
