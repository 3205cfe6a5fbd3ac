import { Command, Option } from 'commander';
import { hubCacheDir } from '../hub/pull/cache.ts';
import { PullError } from '../hub/pull/errors.ts';
import { formatBytes, progressReporter } from '../hub/pull/progress.ts';
import { DEFAULT_ENDPOINT, parseTarget, pull } from '../hub/pull/pull.ts';
import { DTYPES, type Dtype } from '../hub/pull/select.ts';

interface PullFlags {
  endpoint?: string;
  tokenEnv: string;
  dtype: Dtype | 'auto';
  include?: string[];
  exclude?: string[];
  all?: boolean;
  concurrency: string;
  progress: boolean;
}

export function pullCommand(): Command {
  return new Command('pull')
    .description('Download a model from a Hub (huggingface.co, a mirror, or another modelhost) into the Hugging Face cache.')
    .argument('<repo>', 'org/name, optionally @revision (branch, tag or commit; default main)')
    .addOption(new Option('--endpoint <url>', `Hub to pull from (default ${DEFAULT_ENDPOINT})`).env('HF_ENDPOINT'))
    .option('--token-env <name>', 'environment variable holding the token for gated and private repos', 'HF_TOKEN')
    .addOption(new Option('--dtype <dtype>', 'ONNX variant to take; auto: the one modelhost runs (fp32, else q8)').choices(['auto', ...DTYPES]).default('auto'))
    .option('--include <globs...>', 'take only the files matching these globs (fnmatch: "*" also matches "/"), instead of the runtime files')
    .option('--exclude <globs...>', 'leave out the files matching these globs')
    .option('--all', 'take every file of the repo')
    .option('--concurrency <n>', 'connections at once: files, and the parts of files from 16 MB up (up to 4 each)', '8')
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      `
By default only what modelhost needs is taken: README.md, config, tokenizer and pre-processor files, and one
ONNX variant of onnx/ with its external data. Files go to HF_HUB_CACHE (else HF_HOME/hub, else
~/.cache/huggingface/hub), in the layout huggingface_hub and transformers use. An interrupted pull continues
where it stopped when run again; every file is checked against the Hub's SHA-256 (or git SHA-1).

Examples:
  modelhost pull Xenova/distilbert-base-uncased-finetuned-sst-2-english
  modelhost pull Xenova/gpt2@main --dtype q8
  HF_TOKEN=hf_... modelhost pull org/gated-model
  modelhost pull tiny/bert-sentiment --endpoint http://10.0.0.5:8080   # from another modelhost`,
    )
    .action(async (ref: string, flags: PullFlags) => {
      const progress = flags.progress ? progressReporter() : undefined;
      const concurrency = Number(flags.concurrency);
      try {
        if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new PullError('bad_input', '--concurrency must be a whole number from 1 to 64');
        const target = parseTarget(ref);
        const started = performance.now();
        const result = await pull({
          ...target,
          endpoint: flags.endpoint || DEFAULT_ENDPOINT,
          token: process.env[flags.tokenEnv] || undefined,
          cacheDir: hubCacheDir(),
          dtype: flags.dtype,
          include: flags.include,
          exclude: flags.exclude,
          all: flags.all,
          concurrency,
          events: progress,
        });
        progress?.stop();
        const seconds = (performance.now() - started) / 1000;
        const rate = result.fetchedBytes / Math.max(seconds, 1e-3);
        process.stdout.write(
          `${result.snapshotDir}\n` +
            `pulled ${result.plan.repo}@${result.plan.sha.slice(0, 12)}: ${result.plan.files.length} files, ${formatBytes(result.fetchedBytes)} fetched in ${seconds.toFixed(1)} s` +
            `${result.fetchedBytes ? ` (${formatBytes(rate)}/s)` : ''}${result.skipped ? `, ${result.skipped} already here` : ''}\n`,
        );
      } catch (e) {
        progress?.stop();
        const message = e instanceof PullError ? e.message : `pull failed: ${(e as Error).message}`;
        process.stderr.write(`modelhost pull: ${message}\n`);
        process.exit(e instanceof PullError && e.kind === 'bad_input' ? 2 : 1);
      }
    });
}
