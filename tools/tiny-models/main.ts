/**
 * CLI: `npm run models:tiny -- [--out ./models] [--force] [--only tiny/gpt2 ...] [--bench ...]`
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { BENCH_DIMS, BENCH_MODEL_ID, TINY_MODEL_IDS, writeBenchModel, writeTinyModels } from './index.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function formatSize(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${(bytes / 1024).toFixed(0)} KB`;
}

async function sizeOf(path: string): Promise<string> {
  return formatSize((await stat(path)).size);
}

/** The ONNX weights of a model folder: one graph for most, an encoder and a decoder for encoder-decoders. */
async function weightsSize(folder: string): Promise<string> {
  const onnx = join(folder, 'onnx');
  const files = (await readdir(onnx)).filter((f) => f.endsWith('.onnx'));
  const sizes = await Promise.all(files.map(async (f) => (await stat(join(onnx, f))).size));
  return formatSize(sizes.reduce((a, b) => a + b, 0));
}

const program = new Command()
  .name('models:tiny')
  .description(
    'Write deterministic tiny ONNX test models (seeded random weights, Hugging Face layout, loadable by ' +
      '@huggingface/transformers from local files with dtype fp32) into <out>/tiny/<name>. A model whose folder ' +
      'already has the current .factory-version stamp is skipped unless --force.\n\n' +
      `Models: ${TINY_MODEL_IDS.join(', ')}.\n\n` +
      `--bench writes only ${BENCH_MODEL_ID} instead: the same encoder classifier at a realistic size ` +
      '(tens of MB; never commit it).',
  )
  .addHelpText(
    'after',
    '\nExamples:\n' +
      '  npm run models:tiny\n' +
      '  npm run models:tiny -- --out /tmp/models --only tiny/gpt2 tiny/vit --force\n' +
      '  npm run models:tiny -- --bench --hidden 256 --layers 2 --heads 4 --intermediate 1024',
  )
  .option('--out <dir>', 'output directory', './models')
  .option('--force', 'rewrite models even when they are up to date', false)
  .option('--only <ids...>', 'write only these model ids')
  .option('--bench', `write the benchmark model ${BENCH_MODEL_ID} (only it)`, false)
  .option('--hidden <n>', 'bench: hidden size', positiveInt, BENCH_DIMS.hidden)
  .option('--layers <n>', 'bench: number of layers', positiveInt, BENCH_DIMS.layers)
  .option('--heads <n>', 'bench: attention heads (must divide hidden)', positiveInt, BENCH_DIMS.heads)
  .option('--intermediate <n>', 'bench: feed-forward size', positiveInt, BENCH_DIMS.intermediate);

program.parse();
const opts = program.opts<{
  out: string;
  force: boolean;
  only?: string[];
  bench: boolean;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}>();
const outDir = resolve(opts.out);

async function run(): Promise<void> {
  if (opts.bench) {
    const { hidden, layers, heads, intermediate } = opts;
    if (hidden % heads !== 0) throw new Error(`--hidden ${hidden} must be divisible by --heads ${heads}`);
    const folder = await writeBenchModel(outDir, { hidden, layers, heads, intermediate }, { force: opts.force });
    console.log(
      `${BENCH_MODEL_ID} (hidden ${hidden}, ${layers} layers, ${heads} heads, intermediate ${intermediate}): ` +
        `${await sizeOf(join(folder, 'onnx/model.onnx'))} -> ${folder}`,
    );
    return;
  }
  const written = await writeTinyModels(outDir, { only: opts.only, force: opts.force });
  const considered = opts.only && opts.only.length > 0 ? opts.only : TINY_MODEL_IDS;
  for (const id of considered) {
    console.log(`${written.includes(id) ? 'wrote  ' : 'current'} ${id} (${await weightsSize(join(outDir, id))})`);
  }
  console.log(`${written.length} written, ${considered.length - written.length} already current, in ${outDir}`);
}

try {
  await run();
} catch (err) {
  console.error(`models:tiny: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
