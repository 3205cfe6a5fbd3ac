import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarget, guardedAgent, isPrivateAddress, TargetRefusedError } from '../../src/predictions/address-guard.ts';

/** Webhooks and input URLs never reach private addresses unless allowed, not even by name or through a redirect. */
let server: http.Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits++;
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('address guard', () => {
  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd12::3', '::ffff:10.0.0.1', '224.0.0.1']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('refuses a private target by address and by name, unless allowed', async () => {
    await expect(checkTarget(new URL(`http://127.0.0.1:${port}/`), false)).rejects.toBeInstanceOf(TargetRefusedError);
    await expect(checkTarget(new URL(`http://localhost:${port}/`), false)).rejects.toThrow(/resolves to .*private or loopback/);
    await expect(checkTarget(new URL(`http://localhost:${port}/`), true)).resolves.toBeUndefined();
  });

  it('the guarded agent refuses the connection itself (what a redirect or a second lookup would reach)', async () => {
    const before = hits;
    const agent = guardedAgent(false);
    await expect(request(`http://localhost:${port}/`, { dispatcher: agent })).rejects.toThrow(/private or loopback/);
    expect(hits).toBe(before);
    await agent.close();
    const open = guardedAgent(true);
    const res = await request(`http://localhost:${port}/`, { dispatcher: open });
    expect(await res.body.text()).toBe('ok');
    await open.close();
  });
});
