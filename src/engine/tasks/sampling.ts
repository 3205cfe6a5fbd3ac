import { randomInt } from 'node:crypto';
import { random } from '@huggingface/transformers';

/**
 * Sampling draws from transformers.js's global PRNG, which every model of a worker shares: sampled runs take
 * turns, each seeding it first, so that another model sampling at the same time cannot change a seeded answer.
 */
let turn: Promise<unknown> = Promise.resolve();

/** Runs `run` alone on the PRNG, seeded with `seed` (a random one when none is given); returns the seed used. */
export async function inSamplingTurn<T>(seed: number | undefined, run: () => Promise<T>): Promise<{ value: T; seed: number }> {
  const used = seed ?? randomInt(2 ** 32);
  const mine = turn.then(() => {
    random.seed(used);
    return run();
  });
  turn = mine.catch(() => undefined);
  return { value: await mine, seed: used };
}
