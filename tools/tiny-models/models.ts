/**
 * The catalogue: every tiny model id, how to build it, and the bench model.
 * Each encoder gets its own seed so the models are not copies of each other.
 */
import { type EncoderDims, MAX_POSITIONS, TINY_ENCODER, buildEncoderModel } from './bert.ts';
import { GPT2_STAMP, buildGpt2, buildGpt2Chat } from './gpt2.ts';
import { LLAMA_STAMP, buildLlamaChat } from './llama.ts';
import { SEQ2SEQ_STAMP, buildBart, buildMarian, buildT5 } from './seq2seq.ts';
import type { ModelSpec } from './spec.ts';
import { VIT_STAMP, buildVit } from './vit.ts';
import { WHISPER_STAMP, buildWhisper } from './whisper.ts';
import { CLIP_STAMP, buildClip } from './clip.ts';
import { DPT_STAMP, buildDpt } from './dpt.ts';
import { VIT_FEATURES_STAMP, buildVitFeatures } from './vit-features.ts';
import { YOLOS_STAMP, buildYolos } from './yolos.ts';
import { SEGFORMER_STAMP, buildSegformer } from './segformer.ts';
import { VIT_GPT2_STAMP, buildVitGpt2 } from './vit-gpt2.ts';
import { VITS_STAMP, buildVits } from './vits.ts';
import { AST_STAMP, buildAst } from './ast.ts';
import { WAV2VEC2_STAMP, buildWav2vec2 } from './wav2vec2.ts';

const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG', 'B-MISC', 'I-MISC'] as const;
// MNLI order (as in roberta-large-mnli); the zero-shot pipeline finds them by (lowercased) name.
const NLI_LABELS = ['contradiction', 'neutral', 'entailment'] as const;
const SENTIMENT_LABELS = ['NEGATIVE', 'POSITIVE'] as const;

const encoderStamp = (dims: EncoderDims, seed: number): string => JSON.stringify({ dims, seed, MAX_POSITIONS });

const TEXT_TAGS = ['bert', 'onnx', 'tiny', 'test'];

export const TINY_MODELS: readonly ModelSpec[] = [
  {
    id: 'tiny/bert-sentiment',
    stampKey: encoderStamp(TINY_ENCODER, 1),
    build: () =>
      buildEncoderModel({
        id: 'tiny/bert-sentiment',
        head: { kind: 'sequence-classification', labels: SENTIMENT_LABELS },
        dims: TINY_ENCODER,
        seed: 1,
        pipelineTag: 'text-classification',
        tags: ['text-classification', 'sentiment-analysis', ...TEXT_TAGS],
        note: 'Labels: NEGATIVE, POSITIVE (untrained, so the label is arbitrary).',
      }),
  },
  {
    id: 'tiny/bert-nli',
    stampKey: encoderStamp(TINY_ENCODER, 2),
    build: () =>
      buildEncoderModel({
        id: 'tiny/bert-nli',
        head: { kind: 'sequence-classification', labels: NLI_LABELS },
        dims: TINY_ENCODER,
        seed: 2,
        pipelineTag: 'zero-shot-classification',
        tags: ['zero-shot-classification', 'text-classification', 'nli', ...TEXT_TAGS],
        note: 'Labels: contradiction, neutral, entailment, so the zero-shot-classification pipeline can use it on (premise, hypothesis) pairs.',
      }),
  },
  {
    id: 'tiny/bert-ner',
    stampKey: encoderStamp(TINY_ENCODER, 3),
    build: () =>
      buildEncoderModel({
        id: 'tiny/bert-ner',
        head: { kind: 'token-classification', labels: NER_LABELS },
        dims: TINY_ENCODER,
        seed: 3,
        pipelineTag: 'token-classification',
        tags: ['token-classification', 'ner', ...TEXT_TAGS],
        note: `Labels: ${NER_LABELS.join(', ')}.`,
      }),
  },
  {
    id: 'tiny/bert-mlm',
    stampKey: encoderStamp(TINY_ENCODER, 4),
    build: () =>
      buildEncoderModel({
        id: 'tiny/bert-mlm',
        head: { kind: 'masked-lm' },
        dims: TINY_ENCODER,
        seed: 4,
        pipelineTag: 'fill-mask',
        tags: ['fill-mask', ...TEXT_TAGS],
        note: 'The mask token is [MASK].',
      }),
  },
  {
    id: 'tiny/bert-qa',
    stampKey: encoderStamp(TINY_ENCODER, 5),
    build: () =>
      buildEncoderModel({
        id: 'tiny/bert-qa',
        head: { kind: 'question-answering' },
        dims: TINY_ENCODER,
        seed: 5,
        pipelineTag: 'question-answering',
        tags: ['question-answering', ...TEXT_TAGS],
      }),
  },
  {
    id: 'tiny/minilm-embed',
    stampKey: encoderStamp(TINY_ENCODER, 6),
    build: () => {
      const built = buildEncoderModel({
        id: 'tiny/minilm-embed',
        head: { kind: 'features' },
        dims: TINY_ENCODER,
        seed: 6,
        pipelineTag: 'feature-extraction',
        tags: ['feature-extraction', 'sentence-similarity', 'sentence-transformers', ...TEXT_TAGS],
        note: 'Sentence embeddings: mean pooling over attended tokens, then L2 normalisation (sentence-transformers layout).',
      });
      // sentence-transformers layout: a Transformer module followed by mean Pooling.
      built.files['modules.json'] = [
        { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
        { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      ];
      built.files['sentence_bert_config.json'] = { max_seq_length: MAX_POSITIONS, do_lower_case: false };
      built.files['1_Pooling/config.json'] = {
        word_embedding_dimension: TINY_ENCODER.hidden,
        pooling_mode_cls_token: false,
        pooling_mode_mean_tokens: true,
        pooling_mode_max_tokens: false,
        pooling_mode_mean_sqrt_len_tokens: false,
        pooling_mode_weightedmean_tokens: false,
        pooling_mode_lasttoken: false,
        include_prompt: true,
      };
      return built;
    },
  },
  { id: 'tiny/gpt2', stampKey: GPT2_STAMP, build: buildGpt2 },
  { id: 'tiny/gpt2-chat', stampKey: `${GPT2_STAMP} chatml`, build: buildGpt2Chat },
  { id: 'tiny/llama-chat', stampKey: LLAMA_STAMP, build: buildLlamaChat },
  { id: 'tiny/vit', stampKey: VIT_STAMP, build: buildVit },
  { id: 'tiny/yolos', stampKey: YOLOS_STAMP, build: buildYolos },
  { id: 'tiny/vit-features', stampKey: VIT_FEATURES_STAMP, build: buildVitFeatures },
  { id: 'tiny/dpt', stampKey: DPT_STAMP, build: buildDpt },
  { id: 'tiny/clip', stampKey: CLIP_STAMP, build: buildClip },
  { id: 'tiny/segformer', stampKey: SEGFORMER_STAMP, build: buildSegformer },
  { id: 'tiny/vit-gpt2', stampKey: VIT_GPT2_STAMP, build: buildVitGpt2 },
  { id: 'tiny/t5', stampKey: SEQ2SEQ_STAMP, build: buildT5 },
  { id: 'tiny/bart', stampKey: SEQ2SEQ_STAMP, build: buildBart },
  { id: 'tiny/marian', stampKey: SEQ2SEQ_STAMP, build: buildMarian },
  { id: 'tiny/whisper', stampKey: WHISPER_STAMP, build: buildWhisper },
  { id: 'tiny/vits', stampKey: VITS_STAMP, build: buildVits },
  { id: 'tiny/ast', stampKey: AST_STAMP, build: buildAst },
  { id: 'tiny/wav2vec2', stampKey: WAV2VEC2_STAMP, build: buildWav2vec2 },
];

export const BENCH_MODEL_ID = 'tiny/bert-bench';

/** Realistic size (about BERT-small/medium) for throughput benchmarks; tens of MB, built on demand only. */
export const BENCH_DIMS: EncoderDims = { hidden: 512, layers: 4, heads: 8, intermediate: 2048 };

export function benchSpec(dims: EncoderDims): ModelSpec {
  const seed = 100;
  return {
    id: BENCH_MODEL_ID,
    stampKey: encoderStamp(dims, seed),
    build: () =>
      buildEncoderModel({
        id: BENCH_MODEL_ID,
        head: { kind: 'sequence-classification', labels: SENTIMENT_LABELS },
        dims,
        seed,
        pipelineTag: 'text-classification',
        tags: ['text-classification', 'benchmark', ...TEXT_TAGS],
        note: 'Benchmark model: same architecture as tiny/bert-sentiment at a realistic size. Not committed; built by `npm run models:tiny -- --bench`.',
      }),
  };
}
