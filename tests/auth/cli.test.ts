import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'modelhost.js');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('modelhost tokens and usage', () => {
  it('create prints the token once; list never shows it; revoke marks it; usage reads the same database', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mh-tokens-cli-'));
    const created = run(['tokens', 'create', '--name', 'ci', '--scopes', 'inference,admin', '--tier', 'pro', '--data-dir', dir, '--json']);
    expect(created.status).toBe(0);
    const { token, id } = JSON.parse(created.stdout) as { token: string; id: string };
    expect(token).toMatch(/^mh_/);
    const listed = run(['tokens', 'list', '--data-dir', dir]);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('active');
    expect(listed.stdout).not.toContain(token);
    expect(listed.stdout).toContain(token.slice(0, 7));
    expect(run(['tokens', 'revoke', id, '--data-dir', dir]).status).toBe(0);
    expect(run(['tokens', 'list', '--data-dir', dir]).stdout).toContain('revoked');
    const again = run(['tokens', 'revoke', id, '--data-dir', dir]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/no active token/);
    const usage = run(['usage', '--by', 'model,day', '--data-dir', dir]);
    expect(usage.status).toBe(0);
    expect(usage.stdout).toMatch(/no usage recorded yet/);
  });

  it('explains itself and refuses bad values clearly', () => {
    const help = run(['tokens', 'create', '--help']);
    for (const flag of ['--name', '--scopes', '--tier', '--expires-in-days', '--database', '--data-dir', 'Example']) expect(help.stdout).toContain(flag);
    expect(run(['usage', '--help']).stdout).toContain('--by');
    const dir = mkdtempSync(path.join(tmpdir(), 'mh-tokens-cli-'));
    const bad = run(['tokens', 'create', '--name', 'x', '--scopes', 'everything', '--data-dir', dir]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown everything/);
    expect(run(['usage', '--by', 'colour', '--data-dir', dir]).stderr).toMatch(/--by/);
    const pg = run(['tokens', 'list', '--database', 'postgres://nobody:secret-pw@127.0.0.1:1/none']);
    expect(pg.status).toBe(2);
    expect(pg.stderr).not.toContain('secret-pw');
  });
});
