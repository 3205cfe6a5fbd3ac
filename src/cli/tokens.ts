import { Command } from 'commander';
import { TokenService } from '../auth/tokens.ts';
import { SCOPES, type Scope } from '../store/types.ts';
import { fail, withDatabase } from './options.ts';
import { withStore, type DbOpts } from './store.ts';

function withTokens<T>(opts: DbOpts, run: (tokens: TokenService) => Promise<T>): Promise<T> {
  return withStore(opts, (store) => run(new TokenService(store.tokens, { cacheMs: 0 })));
}

export function tokensCommand(): Command {
  const cmd = new Command('tokens').description('Create, list and revoke API tokens (stored as hashes; a token is shown once, when created).');

  const create = new Command('create')
    .description('Create a token and print it once.')
    .requiredOption('--name <name>', 'what the token is for, e.g. "ci" or "alice laptop"')
    .option('--owner <owner>', 'who owns it (private endpoints answer only their owner)', 'admin')
    .option('--scopes <list>', `comma-separated scopes: ${SCOPES.join(', ')}`, 'inference')
    .option('--tier <tier>', 'rate-limit tier (see GET /api/tiers)', 'free')
    .option('--expires-in-days <n>', 'the token stops working after this many days')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  modelhost tokens create --name ci --scopes inference --tier pro --expires-in-days 90');
  withDatabase(create).action(async (opts: DbOpts & { name: string; owner: string; scopes: string; tier: string; expiresInDays?: string; json?: boolean }) => {
    const scopes = opts.scopes.split(',').map((s) => s.trim()) as Scope[];
    const bad = scopes.filter((s) => !SCOPES.includes(s));
    if (bad.length) fail(`--scopes: unknown ${bad.join(', ')} (choose from ${SCOPES.join(', ')})`);
    const days = opts.expiresInDays === undefined ? undefined : Number(opts.expiresInDays);
    if (days !== undefined && !(days > 0)) fail('--expires-in-days: a positive number');
    const { token, row } = await withTokens(opts, (t) =>
      t.create({ name: opts.name, owner: opts.owner, scopes, tier: opts.tier, expiresAt: days ? new Date(Date.now() + days * 86_400_000) : null }),
    );
    if (opts.json) console.log(JSON.stringify({ id: row.id, token, name: row.name, scopes: row.scopes, tier: row.tier }));
    else console.log(`${token}\n\nid ${row.id} · ${row.name} · scopes ${row.scopes.join(',')} · tier ${row.tier}\nStore it now: it is not shown again.`);
  });

  const list = new Command('list').description('List tokens (never their values).').option('--json', 'print JSON');
  withDatabase(list).action(async (opts: DbOpts & { json?: boolean }) => {
    const rows = await withTokens(opts, (t) => t.list());
    if (opts.json) return console.log(JSON.stringify(rows.map(({ hash: _hash, ...r }) => r)));
    for (const r of rows) {
      const state = r.revokedAt ? 'revoked' : r.expiresAt && r.expiresAt.getTime() < Date.now() ? 'expired' : 'active';
      console.log(`${r.id}  ${r.prefix}…  ${state.padEnd(7)}  ${r.tier.padEnd(10)} ${r.scopes.join(',').padEnd(28)} ${r.name}`);
    }
    if (rows.length === 0) console.log('no tokens yet: modelhost tokens create --name <name>');
  });

  const revoke = new Command('revoke').description('Revoke a token by id; every instance refuses it within a second.').argument('<id>');
  withDatabase(revoke).action(async (id: string, opts: DbOpts) => {
    const done = await withTokens(opts, (t) => t.revoke(id));
    if (!done) fail(`no active token with id ${id} (see modelhost tokens list)`);
    console.log(`revoked ${id}`);
  });

  return cmd.addCommand(create).addCommand(list).addCommand(revoke);
}
