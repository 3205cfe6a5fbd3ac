/**
 * Which server commands a token may start (issue 18): `--endpoint-commands <file>` names the executables an
 * endpoints-scoped token may run; an admin token may run any; anything else is a 403 naming the list, and nothing
 * is started or stored.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/endpoints/custom/allow-list.ts';
import type { TestServer } from '../helpers/server.ts';
import { allGone, hfImage, replicaPids } from './custom-helpers.ts';
import { api, startEndpointServer } from './helpers.ts';

let s: TestServer;
let alice: string;
let admin: string;
const listFile = path.join(mkdtempSync(path.join(tmpdir(), 'modelhost-commands-')), 'endpoint-commands.txt');
const MARKER = `never-started-${process.pid}`;

/** Processes whose command line carries the marker (one started by a refused request would). */
function markedProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(MARKER)) found.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

beforeAll(async () => {
  writeFileSync(listFile, '# what endpoints tokens may run\npython3\n/usr/local/bin/llama-server  # a path allows that file\n');
  s = await startEndpointServer({ endpointCommands: listFile });
  const tokens = s.composed.deps.access!.tokens;
  alice = (await tokens.create({ name: 'alice', owner: 'alice', scopes: ['inference', 'endpoints'] })).token;
  admin = (await tokens.create({ name: 'root', owner: 'ops', scopes: ['admin', 'endpoints'] })).token;
});
afterAll(async () => {
  await s?.close();
});

const nodeImage = { custom: { command: process.execPath, args: ['-e', 'setTimeout(() => {}, 1e9)', MARKER], api: 'raw', startTimeout: 5 } };

describe('the endpoint commands allow-list', () => {
  it('refuses an endpoints token a command outside the list with 403 naming it, starting and storing nothing', async () => {
    const a = api(s, 'alice', alice);
    const refused = await a.create({ name: 'not-allowed', type: 'public', model: { repository: 'x', image: nodeImage } });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toContain(`"${process.execPath}" is not in the server's allow-list of endpoint commands (${listFile}: python3, /usr/local/bin/llama-server)`);
    expect(refused.json.error).toMatch(/Nothing was started/);
    expect((await a.list()).json.items).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(markedProcesses()).toEqual([]);
  });

  it('lets an endpoints token run a listed command, but not switch it to an unlisted one', async () => {
    const a = api(s, 'alice', alice);
    expect((await a.create({ name: 'allowed', type: 'public', model: { repository: 'x', image: hfImage() } })).status).toBe(200);
    await a.until('allowed', 'running', 1, 30_000);
    const pids = await replicaPids(s, 'allowed', 'alice', alice);
    const switched = await a.update('allowed', { model: { image: nodeImage } });
    expect(switched.json?.error ?? switched.text).toMatch(/not in the server's allow-list/);
    expect(switched.status).toBe(403);
    expect((await a.get('allowed')).json.model.image.custom.command).toBe('python3');
    // Scaling is not a change of what runs: no check.
    expect((await a.update('allowed', { compute: { scaling: { maxReplica: 2 } } })).status).toBe(200);
    expect(markedProcesses()).toEqual([]);
    await a.remove('allowed');
    expect(await allGone(pids)).toBe(true);
  }, 60_000);

  it('lets an admin token run any command', async () => {
    const a = api(s, 'ops', admin);
    expect((await a.create({ name: 'admin-node', type: 'public', model: { repository: 'x', image: { custom: { ...nodeImage.custom, args: ['-e', "require('http').createServer((q, r) => r.end('ok')).listen(process.env.PORT)", MARKER] } } } })).status).toBe(200);
    await a.until('admin-node', 'running', 1, 30_000);
    expect(markedProcesses()).toHaveLength(1);
    // raw: any path and method reach the server as they are.
    expect(await (await fetch(`${s.url}/endpoints/admin-node/anything/at/all`)).text()).toBe('ok');
    await a.remove('admin-node');
    expect(await allGone((markedProcesses()).map(Number))).toBe(true);
  }, 60_000);

  it('without a list, only admins may start commands', () => {
    expect(() => checkCommand('python3', { admin: false }, undefined)).toThrow(/Only admin tokens may start server commands/);
    expect(() => checkCommand('python3', { admin: true }, undefined)).not.toThrow();
    expect(() => checkCommand('./llama-server', { admin: false }, { file: '/x', commands: ['llama-server'] })).toThrow(/not in the server's allow-list/);
    expect(() => checkCommand('/usr/local/bin/../bin/llama-server', { admin: false }, { file: '/x', commands: ['/usr/local/bin/llama-server'] })).not.toThrow();
  });
});
