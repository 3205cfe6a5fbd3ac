import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTiers, loadTiersFile, parseTiers, unitLimit } from '../../src/auth/tiers.ts';

describe('tiers', () => {
  it('ships anonymous as the lowest tier and unlimited without limits', () => {
    expect(parseTiers({ tiers: defaultTiers })).toEqual(defaultTiers);
    expect(defaultTiers[0]).toEqual({ name: 'anonymous', requestsPerMinute: 60, concurrent: 2, charactersPerMinute: 100_000, monthlyBudgetUsd: 1 });
    expect(defaultTiers.find((t) => t.name === 'unlimited')).toEqual({ name: 'unlimited' });
    for (const name of ['free', 'pro']) expect(defaultTiers.map((t) => t.name)).toContain(name);
  });

  it('names every problem in a tiers file', () => {
    const bad = { tiers: [{ name: 'ok', requestsPerMinute: 1.5, concurrent: 0 }, { name: '', monthlyBudgetUsd: -1, burst: 3 }] };
    expect(() => parseTiers(bad, 'tiers.yaml')).toThrowError(
      /^tiers\.yaml is invalid:\n {2}tiers\.0\.requestsPerMinute: must be a whole number\n {2}tiers\.0\.concurrent: must be greater than 0\n {2}tiers\.1\.name: .*\n {2}tiers\.1\.monthlyBudgetUsd: must be 0 or more\n {2}tiers\.1: .*burst/,
    );
    expect(() => parseTiers({})).toThrowError(/tiers file is invalid:\n {2}tiers: /);
  });

  it('rejects a tier name used twice and a tier that meters tokens and characters', () => {
    expect(() => parseTiers({ tiers: [{ name: 'a' }, { name: 'a' }] })).toThrowError(/tier name used twice: a/);
    expect(() => parseTiers({ tiers: [{ name: 'a', tokensPerMinute: 1, charactersPerMinute: 1 }] })).toThrowError(/not both/);
  });

  it('loads YAML and JSON files and says which file is broken', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'modelhost-tiers-'));
    writeFileSync(path.join(dir, 'tiers.yaml'), 'tiers:\n  - name: team\n    requestsPerMinute: 100\n    tokensPerMinute: 50000\n');
    writeFileSync(path.join(dir, 'tiers.json'), JSON.stringify({ tiers: [{ name: 'team', monthlyBudgetUsd: 20 }] }));
    writeFileSync(path.join(dir, 'bad.json'), '{ tiers: ');
    const [team] = loadTiersFile(path.join(dir, 'tiers.yaml'));
    expect(team).toEqual({ name: 'team', requestsPerMinute: 100, tokensPerMinute: 50_000 });
    expect(unitLimit(team ?? { name: 'x' })).toEqual({ kind: 'tokens', perMinute: 50_000 });
    expect(loadTiersFile(path.join(dir, 'tiers.json'))).toEqual([{ name: 'team', monthlyBudgetUsd: 20 }]);
    expect(() => loadTiersFile(path.join(dir, 'bad.json'))).toThrowError(/bad\.json is not valid JSON/);
    expect(() => loadTiersFile(path.join(dir, 'missing.yaml'))).toThrowError(/cannot read tiers file .*missing\.yaml/);
  });
});
