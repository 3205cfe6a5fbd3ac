import { Command } from 'commander';
import { modelRoots } from '../compose.ts';
import { loadConfig } from '../config.ts';
import { ModelRepository } from '../engine/repository.ts';
import { withModelsDir } from './options.ts';
import { hubCacheDir } from '../hub/pull/cache.ts';
import { listCachedModels, removeCachedModel, type CachedModel } from '../hub/pull/cached.ts';
import { PullError } from '../hub/pull/errors.ts';
import { formatBytes } from '../hub/pull/progress.ts';

function printTable(header: string[], table: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  for (const r of [header, ...table]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
}

/** `main -> 1a2b3c4d5e6f`, and any other refs or bare commits. */
function revisionsText(m: CachedModel): string {
  return m.revisions.map((r) => `${r.refs.length ? `${r.refs.join(',')}@` : ''}${r.commit.slice(0, 12)}`).join(' ') || '-';
}

export function modelsCommand(): Command {
  const models = new Command('models').description('Inspect the model repository.');
  const list = new Command('list')
    .description('List the models this server would serve, with their task and runtime, and the models in the Hugging Face cache (pulled with `modelhost pull`).')
    .option('--task <task>', 'only models of this pipeline tag')
    .option('--json', 'print JSON instead of a table');
  withModelsDir(list);
  list.action(async (opts: { task?: string; json?: boolean; modelsDir?: string; builtinModels?: boolean }) => {
    const config = loadConfig({ modelsDir: opts.modelsDir, builtinModels: opts.builtinModels === false ? false : undefined });
    const repo = new ModelRepository(modelRoots(config));
    const rows = repo.list().filter((m) => !opts.task || m.pipelineTag === opts.task);
    const cacheDir = hubCacheDir();
    const cached = (await listCachedModels(cacheDir)).filter((m) => !opts.task || m.pipelineTag === opts.task);
    if (opts.json) {
      const local = rows.map((m) => ({ id: m.id, pipeline_tag: m.pipelineTag, runtime: m.runtime, library_name: m.libraryName, size_bytes: m.sizeBytes, source: 'models-dir' }));
      const hub = cached.map((m) => ({
        id: m.id,
        ...(m.pipelineTag ? { pipeline_tag: m.pipelineTag } : {}),
        size_bytes: m.sizeBytes,
        source: 'hf-cache',
        revisions: m.revisions,
        runnable: m.runnable,
        ...(m.reason ? { reason: m.reason } : {}),
      }));
      process.stdout.write(`${JSON.stringify([...local, ...hub], null, 2)}\n`);
      return;
    }
    printTable(
      ['MODEL', 'TASK', 'RUNTIME', 'SIZE'],
      rows.map((m) => [m.id, m.pipelineTag, m.runtime, `${(m.sizeBytes / 1024 ** 2).toFixed(1)} MB`]),
    );
    if (rows.length === 0) process.stdout.write(`No models found in ${modelRoots(config).join(', ')}. Run \`npm run models:tiny\` to make test models.\n`);
    for (const w of repo.warnings) process.stderr.write(`skipped ${w.dir}: ${w.reason}\n`);
    if (cached.length) {
      process.stdout.write(`\nHugging Face cache (${cacheDir}):\n`);
      printTable(
        ['MODEL', 'REVISION', 'SIZE', 'RUNS HERE'],
        cached.map((m) => [
          m.id,
          revisionsText(m),
          `${formatBytes(m.sizeBytes)}${m.partialBytes ? ` (+${formatBytes(m.partialBytes)} partial)` : ''}`,
          m.runnable ? `yes (${m.pipelineTag})` : `no: ${m.reason}`,
        ]),
      );
    }
  });
  models.addCommand(list);
  models.addCommand(
    new Command('rm')
      .description('Remove a model from the Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub).')
      .argument('<repo>', 'org/name as `models list` shows it')
      .action(async (id: string) => {
        const cacheDir = hubCacheDir();
        try {
          const freed = await removeCachedModel(cacheDir, id);
          process.stdout.write(`removed ${id} from ${cacheDir} (${formatBytes(freed)} freed)\n`);
        } catch (e) {
          process.stderr.write(`modelhost models rm: ${e instanceof PullError ? e.message : (e as Error).message}\n`);
          process.exit(1);
        }
      }),
  );
  return models;
}
