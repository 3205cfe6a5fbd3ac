import { Command, Option } from 'commander';

/** The --models-dir option shared by every command. */
export function withModelsDir(cmd: Command): Command {
  return cmd
    .addOption(new Option('--models-dir <dir>', 'folder of models in Hugging Face layout (<org>/<name>/...)').env('MODELHOST_MODELS_DIR'))
    .addOption(new Option('--no-builtin-models', 'do not serve the models shipped with modelhost (fastText language id, Silero VAD)'));
}

/** Prints a setting error as one line and exits, instead of a stack trace. */
export function fail(message: string): never {
  process.stderr.write(`modelhost: ${message}\n`);
  process.exit(2);
}

/** Where tokens and usage live: the options `serve`, `tokens` and `usage` share. */
export function withDatabase(cmd: Command): Command {
  return cmd
    .addOption(new Option('--database <url>', 'postgres://user:pass@host/db to share tokens and usage between instances (default: SQLite in --data-dir)').env('MODELHOST_DATABASE'))
    .addOption(new Option('--data-dir <dir>', 'folder of the embedded SQLite database').env('MODELHOST_DATA_DIR').default('./data'));
}
