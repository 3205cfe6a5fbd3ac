import { Command } from 'commander';
import { withStore } from './store.ts';
import type { UsageGroup } from '../store/types.ts';
import { fail, withDatabase } from './options.ts';

const GROUPS = ['token', 'model', 'provider', 'day'];

export function usageCommand(): Command {
  const cmd = new Command('usage')
    .description('Usage and cost recorded by the server, aggregated by token, model, provider and/or day.')
    .option('--by <list>', `comma-separated: ${GROUPS.join(', ')}`, 'day')
    .option('--from <date>', 'from this UTC date (YYYY-MM-DD), inclusive')
    .option('--to <date>', 'to this UTC date (YYYY-MM-DD), exclusive')
    .option('--token <id>', 'only this token')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  modelhost usage --by model,day\n  modelhost usage --by token --from 2026-11-01 --json');
  withDatabase(cmd).action(async (opts: { by: string; from?: string; to?: string; token?: string; json?: boolean; database?: string; dataDir: string }) => {
    const by = opts.by.split(',').map((s) => s.trim());
    if (by.some((b) => !GROUPS.includes(b))) fail(`--by: choose from ${GROUPS.join(', ')}`);
    for (const [flag, v] of [['--from', opts.from], ['--to', opts.to]] as const) {
      if (v !== undefined && Number.isNaN(Date.parse(v))) fail(`${flag}: a date such as 2026-11-01`);
    }
    await withStore(opts, async (store) => {
      const rows = await store.usage.aggregate({
        by: by as UsageGroup[],
        from: opts.from ? new Date(opts.from) : undefined,
        to: opts.to ? new Date(opts.to) : undefined,
        tokenId: opts.token,
      });
      if (opts.json) return console.log(JSON.stringify(rows));
      const head = [...by, 'requests', 'errors', 'in tok', 'out tok', 'chars', 'audio s', 'megapx', 'cost USD', 'avg ms'];
      const table = rows.map((r) => [
        ...by.map((b) => String((r as unknown as Record<string, unknown>)[b] ?? '(anonymous)')),
        String(r.requests),
        String(r.errors),
        String(r.inputTokens),
        String(r.outputTokens),
        String(r.characters),
        r.audioSeconds.toFixed(1),
        r.megapixels.toFixed(2),
        r.costUsd.toFixed(6),
        r.avgLatencyMs.toFixed(1),
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
      const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
      console.log(line(head));
      for (const row of table) console.log(line(row));
      if (rows.length === 0) console.log('no usage recorded yet');
    });
  });
  return cmd;
}
