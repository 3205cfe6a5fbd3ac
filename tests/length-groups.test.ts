import { describe, expect, it } from 'vitest';
import { lengthGroups, PASS_OVERHEAD_TOKENS } from '../src/engine/tasks/text-classification.ts';

describe('lengthGroups (length-sorted sub-batches)', () => {
  it('covers every item once, each group sorted by length', () => {
    const lengths = [40, 3, 200, 7, 41, 199, 5, 120];
    const groups = lengthGroups(lengths);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    for (const g of groups) for (let k = 1; k < g.length; k++) expect(lengths[g[k]!]!).toBeGreaterThanOrEqual(lengths[g[k - 1]!]!);
  });

  it('splits only when the padding saved outweighs a pass', () => {
    // Similar lengths: one pass.
    expect(lengthGroups([20, 22, 21, 23])).toHaveLength(1);
    // Very different lengths: short ones run apart from long ones.
    const split = lengthGroups([5, 6, 5, 300, 301]);
    expect(split).toHaveLength(2);
    expect(split[0]!.sort()).toEqual([0, 1, 2]);
    // The chosen cut costs no more than one padded pass.
    const lengths = [5, 6, 5, 300, 301];
    const cost = (gs: number[][]) => gs.reduce((c, g) => c + PASS_OVERHEAD_TOKENS + g.length * Math.max(...g.map((i) => lengths[i]!)), 0);
    expect(cost(lengthGroups(lengths))).toBeLessThanOrEqual(cost([lengths.map((_, i) => i)]));
  });
});
