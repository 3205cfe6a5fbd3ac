/**
 * BERT-style encoders: the five bert-* models, minilm-embed and the bench model share this graph.
 *
 * Graph inputs (int64, dynamic batch and sequence):
 *   input_ids [batch_size, sequence_length], attention_mask [same], token_type_ids [same]
 * Body (post-LayerNorm, as in BERT):
 *   emb = LN(word[input_ids] + position[0..S-1] + type[token_type_ids])
 *   per layer: x = LN(x + SelfAttention(x, mask)); x = LN(x + FFN(x))
 * The attention mask adds MASKED to padded keys, so a text's outputs do not depend on how much
 * padding the batch adds after it.
 */
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import { type BuiltModel, type ModelFiles, labelMaps } from './spec.ts';
import { wordPieceFiles, wordPieceVocab } from './tokenizer.ts';
import { feedForward, paddingBias, selfAttention } from './transformer.ts';

export interface EncoderDims {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}

/** Small enough for ~0.5 MB files, big enough to be a real multi-head, multi-layer encoder. */
export const TINY_ENCODER: EncoderDims = { hidden: 32, layers: 2, heads: 4, intermediate: 128 };

export const MAX_POSITIONS = 512;
const TYPE_VOCAB = 2;
const LN_EPS = 1e-12;

export type EncoderHead =
  | { kind: 'sequence-classification'; labels: readonly string[] }
  | { kind: 'token-classification'; labels: readonly string[] }
  | { kind: 'masked-lm' }
  | { kind: 'question-answering' }
  | { kind: 'features' };

const ARCHITECTURE: Record<EncoderHead['kind'], string> = {
  'sequence-classification': 'BertForSequenceClassification',
  'token-classification': 'BertForTokenClassification',
  'masked-lm': 'BertForMaskedLM',
  'question-answering': 'BertForQuestionAnswering',
  features: 'BertModel',
};

/** Builds the ONNX graph; returns model.onnx bytes and a description of its outputs. */
export function encoderGraph(dims: EncoderDims, vocabSize: number, head: EncoderHead, seed: number): { bytes: Uint8Array; outputs: string[] } {
  if (dims.hidden % dims.heads !== 0) throw new Error(`hidden ${dims.hidden} is not divisible by heads ${dims.heads}`);
  const g = new GraphBuilder(seed);
  const seq: [string, string] = ['batch_size', 'sequence_length'];
  const inputIds = g.input('input_ids', INT64, seq);
  const attentionMask = g.input('attention_mask', INT64, seq);
  const tokenTypeIds = g.input('token_type_ids', INT64, seq);

  // Embeddings. Word vectors get the largest scale so the token identity dominates.
  const wordTable = g.weight('embeddings.word_embeddings.weight', [vocabSize, dims.hidden], 1.0);
  const posTable = g.weight('embeddings.position_embeddings.weight', [MAX_POSITIONS, dims.hidden], 0.3);
  const typeTable = g.weight('embeddings.token_type_embeddings.weight', [TYPE_VOCAB, dims.hidden], 0.3);
  const positions = g.op('Range', [g.i64([0], []), g.dim(inputIds, 1), g.i64([1], [])]); // [S]
  let x = g.add(
    g.add(g.op('Gather', [wordTable, inputIds]), g.op('Gather', [posTable, positions])),
    g.op('Gather', [typeTable, tokenTypeIds]),
  );
  x = g.layerNorm(x, 'embeddings.LayerNorm', dims.hidden, LN_EPS);

  const bias = paddingBias(g, attentionMask); // [B,1,1,S]
  const att = { hidden: dims.hidden, heads: dims.heads };
  for (let l = 0; l < dims.layers; l++) {
    const p = `encoder.layer.${l}`;
    x = g.layerNorm(g.add(x, selfAttention(g, x, `${p}.attention`, att, bias)), `${p}.attention.LayerNorm`, dims.hidden, LN_EPS);
    x = g.layerNorm(g.add(x, feedForward(g, x, p, dims.hidden, dims.intermediate)), `${p}.output.LayerNorm`, dims.hidden, LN_EPS);
  }

  const outputs: string[] = [];
  switch (head.kind) {
    case 'sequence-classification': {
      // Pool the [CLS] (first) token: dense + tanh, then the classifier.
      const cls = g.op('Gather', [x, g.i64([0], [])], { axis: int(1) }); // [B,H]
      const pooled = g.op('Tanh', [g.linear(cls, 'pooler.dense', dims.hidden, dims.hidden)]);
      const logits = g.linear(pooled, 'classifier', dims.hidden, head.labels.length);
      outputs.push(g.output(logits, 'logits', FLOAT, ['batch_size', head.labels.length]));
      break;
    }
    case 'token-classification': {
      const logits = g.linear(x, 'classifier', dims.hidden, head.labels.length);
      outputs.push(g.output(logits, 'logits', FLOAT, [...seq, head.labels.length]));
      break;
    }
    case 'masked-lm': {
      // BERT's MLM head: transform (dense, gelu, LN), then the word embeddings transposed (tied) plus a bias.
      const t = g.layerNorm(g.gelu(g.linear(x, 'cls.predictions.transform.dense', dims.hidden, dims.hidden)), 'cls.predictions.transform.LayerNorm', dims.hidden, LN_EPS);
      const decoder = g.op('Transpose', [wordTable], { perm: ints([1, 0]) }); // [H,V]
      const logits = g.add(g.matmul(t, decoder), g.weight('cls.predictions.bias', [vocabSize], 0.1));
      outputs.push(g.output(logits, 'logits', FLOAT, [...seq, vocabSize]));
      break;
    }
    case 'question-answering': {
      const both = g.linear(x, 'qa_outputs', dims.hidden, 2); // [B,S,2]
      const start = g.op('Gather', [both, g.i64([0], [])], { axis: int(2) });
      const end = g.op('Gather', [both, g.i64([1], [])], { axis: int(2) });
      outputs.push(g.output(start, 'start_logits', FLOAT, seq));
      outputs.push(g.output(end, 'end_logits', FLOAT, seq));
      break;
    }
    case 'features':
      outputs.push(g.output(x, 'last_hidden_state', FLOAT, [...seq, dims.hidden]));
      break;
  }
  return { bytes: g.toBytes('bert', `tiny BERT encoder (${head.kind})`), outputs };
}

export interface EncoderModelOptions {
  id: string;
  head: EncoderHead;
  dims: EncoderDims;
  seed: number;
  pipelineTag: string;
  tags: string[];
  /** Extra README sentence. */
  note?: string;
}

/** A complete model folder (config, tokenizer, graph) for one encoder. */
export function buildEncoderModel(o: EncoderModelOptions): BuiltModel {
  const vocab = wordPieceVocab();
  const { bytes, outputs } = encoderGraph(o.dims, vocab.length, o.head, o.seed);
  const labels = 'labels' in o.head ? labelMaps(o.head.labels) : {};
  const config = {
    architectures: [ARCHITECTURE[o.head.kind]],
    model_type: 'bert',
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: o.dims.hidden,
    initializer_range: 0.02,
    intermediate_size: o.dims.intermediate,
    layer_norm_eps: LN_EPS,
    max_position_embeddings: MAX_POSITIONS,
    num_attention_heads: o.dims.heads,
    num_hidden_layers: o.dims.layers,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
    type_vocab_size: TYPE_VOCAB,
    use_cache: true,
    vocab_size: vocab.length,
    ...labels,
  };
  const files: ModelFiles = {
    'config.json': config,
    ...wordPieceFiles(vocab),
    'onnx/model.onnx': bytes,
  };
  const d = o.dims;
  const summary =
    `A ${d.layers}-layer BERT encoder (hidden ${d.hidden}, ${d.heads} heads, intermediate ${d.intermediate}, ` +
    `vocab ${vocab.length}) with random weights, exported as ${ARCHITECTURE[o.head.kind]}. ` +
    `ONNX inputs: input_ids, attention_mask, token_type_ids (int64 [batch, sequence]); outputs: ${outputs.join(', ')}.` +
    (o.note ? ` ${o.note}` : '');
  return { id: o.id, card: { pipelineTag: o.pipelineTag, tags: o.tags, summary }, files };
}
