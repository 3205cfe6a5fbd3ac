import { Command } from 'commander';
import { modelRoots } from '../compose.ts';
import { loadConfig } from '../config.ts';
import { ModelRepository } from '../engine/repository.ts';
import { withModelsDir } from './options.ts';

export function modelsCommand(): Command {
  const models = new Command('models').description('Inspect the model repository.');
  const list = new Command('list')
    .description('List the models this server would serve, with their task and runtime.')
    .option('--task <task>', 'only models of this pipeline tag')
    .option('--json', 'print JSON instead of a table');
  withModelsDir(list);
  list.action((opts: { task?: string; json?: boolean; modelsDir?: string; builtinModels?: boolean }) => {
    const config = loadConfig({ modelsDir: opts.modelsDir, builtinModels: opts.builtinModels === false ? false : undefined });
    const repo = new ModelRepository(modelRoots(config));
    const rows = repo.list().filter((m) => !opts.task || m.pipelineTag === opts.task);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(rows.map((m) => ({ id: m.id, pipeline_tag: m.pipelineTag, runtime: m.runtime, library_name: m.libraryName, size_bytes: m.sizeBytes })), null, 2)}\n`);
      return;
    }
    const table = rows.map((m) => [m.id, m.pipelineTag, m.runtime, `${(m.sizeBytes / 1024 ** 2).toFixed(1)} MB`]);
    const header = ['MODEL', 'TASK', 'RUNTIME', 'SIZE'];
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    for (const r of [header, ...table]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
    if (rows.length === 0) process.stdout.write(`No models found in ${modelRoots(config).join(', ')}. Run \`npm run models:tiny\` to make test models.\n`);
    for (const w of repo.warnings) process.stderr.write(`skipped ${w.dir}: ${w.reason}\n`);
  });
  models.addCommand(list);
  return models;
}
