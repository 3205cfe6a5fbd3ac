import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { modelRoots } from '../compose.ts';
import { loadConfig } from '../config.ts';
import { ModelhostError } from '../core/errors.ts';
import { isTaskId, taskSpec } from '../core/tasks/index.ts';
import { Engine } from '../engine/engine.ts';
import { ModelRepository } from '../engine/repository.ts';
import { fail, withModelsDir } from './options.ts';

export function runCommand(): Command {
  const cmd = new Command('run')
    .description('Run one input through a model locally, like a transformers pipeline, and print the answer as JSON.')
    .argument('<model>', 'model id, e.g. facebook/fasttext-lid-176')
    .argument('[input]', 'the input text, or JSON {"inputs": ..., "parameters": ...} (use --file for images and audio)')
    .option('-f, --file <path>', 'an image or audio file to send as the input')
    .option('--parameters <json>', 'task parameters as JSON, e.g. \'{"top_k": 3}\'')
    .option('--task <task>', 'run another task the model serves (e.g. sentence-similarity on an embedding model)')
    .addHelpText('after', `
Examples:
  modelhost run facebook/fasttext-lid-176 "Guten Tag, wie geht es Ihnen?"
  modelhost run snakers4/silero-vad --file speech.wav
  modelhost run tiny/bert-qa '{"inputs": {"question": "Who?", "context": "Sarah lives in London."}}'`);
  withModelsDir(cmd);
  cmd.action(async (modelId: string, input: string | undefined, opts: { file?: string; parameters?: string; task?: string; modelsDir?: string; builtinModels?: boolean }) => {
    const config = loadConfig({ modelsDir: opts.modelsDir, builtinModels: opts.builtinModels === false ? false : undefined });
    const repo = new ModelRepository(modelRoots(config));
    const model = repo.get(modelId);
    if (!model) fail(`no model ${modelId}; \`modelhost models list\` shows what is there`);
    if (opts.task && !isTaskId(opts.task)) fail(`unknown task ${opts.task}`);
    const spec = taskSpec((opts.task as never) ?? model.pipelineTag);
    let parameters: Record<string, unknown> = {};
    try {
      if (opts.parameters) parameters = JSON.parse(opts.parameters) as Record<string, unknown>;
    } catch {
      fail('--parameters is not valid JSON');
    }
    let inputs: unknown;
    if (opts.file) inputs = { data: new Uint8Array(readFileSync(opts.file)) };
    else if (input === undefined) fail('give an input text (or --file for images and audio)');
    else if (input.trimStart().startsWith('{')) {
      const body = JSON.parse(input) as { inputs: unknown; parameters?: Record<string, unknown> };
      inputs = body.inputs;
      parameters = { ...body.parameters, ...parameters };
    } else inputs = input;

    const engine = new Engine({ workers: 1 });
    try {
      const req = spec.parse({ inputs, parameters, root: {} });
      await engine.ensureReady(model, 10 * 60_000);
      const outputs = await engine.infer(model, spec.id, req.items, req.params);
      process.stdout.write(`${JSON.stringify(spec.respond(outputs, req), null, 2)}\n`);
    } catch (e) {
      if (e instanceof ModelhostError) fail(e.message);
      throw e;
    } finally {
      await engine.close();
    }
  });
  return cmd;
}
