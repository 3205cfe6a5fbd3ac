/**
 * Where modelhost may send requests on a caller's behalf (webhooks, input files given as URLs). Private,
 * loopback, link-local and other non-public addresses are refused unless the operator allows them
 * (`--webhook-allow-private`). The check runs on every connection the guarded agent opens (its DNS lookup),
 * so a redirect, or a name that resolves differently the second time, cannot reach such an address either.
 */
import dns from 'node:dns';
import net from 'node:net';
import { Agent } from 'undici';

const blocked = new net.BlockList();
for (const [a, p] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(a, p, 'ipv4');
}
for (const [a, p] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  blocked.addSubnet(a, p, 'ipv6');
}

/** True for addresses that are not on the public internet (IPv4-mapped IPv6 is judged by its IPv4 part). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return blocked.check(mapped, 'ipv4');
  const family = net.isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class TargetRefusedError extends Error {}

/** Throws when the URL names (or its host resolves to) an address the policy refuses. */
export async function checkTarget(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) {
    if (isPrivateAddress(host)) throw new TargetRefusedError(`${host} is a private or loopback address`);
    return;
  }
  const addresses = await dns.promises.lookup(host, { all: true }).catch((e: NodeJS.ErrnoException) => {
    throw new TargetRefusedError(`the host ${host} cannot be resolved (${e.code ?? e.message})`);
  });
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw new TargetRefusedError(`${host} resolves to ${bad.address}, a private or loopback address`);
}

/** An undici agent whose every connection is checked against the policy at lookup time. */
export function guardedAgent(allowPrivate: boolean): Agent {
  if (allowPrivate) return new Agent({ connect: { timeout: 5_000 } });
  return new Agent({
    connect: {
      timeout: 5_000,
      lookup(hostname, options, callback) {
        dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
          if (err) return callback(err, '', 0);
          const list = addresses as dns.LookupAddress[];
          const bad = list.find((a) => isPrivateAddress(a.address));
          if (bad) return callback(new TargetRefusedError(`${hostname} resolves to ${bad.address}, a private or loopback address`), '', 0);
          const first = list[0]!;
          // net.connect asks with `all` unset or set; answer in the form it asked for.
          if ((options as dns.LookupOptions).all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
          else callback(null, first.address, first.family);
        });
      },
    },
  });
}
