#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { serveCommand } from './serve.ts';
import { modelsCommand } from './models.ts';
import { pullCommand } from './pull.ts';
import { runCommand } from './run.ts';
import { simulateCommand } from './simulate.ts';
import { tokensCommand } from './tokens.ts';
import { usageCommand } from './usage.ts';
import { endpointsCommand } from './endpoints.ts';
import { benchCommand } from './bench.ts';
import { predictionsCommand } from './predictions.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('modelhost')
  .description('Self-hosted model inference: the Hugging Face Inference API (and OpenAI completions) on local ONNX models.')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)');

program.addCommand(serveCommand());
program.addCommand(modelsCommand());
program.addCommand(pullCommand());
program.addCommand(runCommand());
program.addCommand(simulateCommand());
program.addCommand(tokensCommand());
program.addCommand(usageCommand());
program.addCommand(endpointsCommand());
program.addCommand(benchCommand());
program.addCommand(predictionsCommand());

await program.parseAsync(process.argv);
