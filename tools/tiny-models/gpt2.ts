/**
 * tiny/gpt2: a GPT-2-style decoder (pre-LayerNorm, causal self-attention with a KV cache).
 *
 * Graph inputs, as transformers.js feeds a GPT-2 export:
 *   input_ids       int64 [batch_size, sequence_length]
 *   attention_mask  int64 [batch_size, total_sequence_length]   (past + new tokens)
 *   position_ids    int64 [batch_size, sequence_length]          (transformers.js derives them from the mask)
 *   past_key_values.{i}.key / .value  float [batch_size, heads, past_sequence_length, head_dim]
 * Graph outputs:
 *   logits          float [batch_size, sequence_length, vocab]
 *   present.{i}.key / .value          float [batch_size, heads, total_sequence_length, head_dim]
 *
 * transformers.js builds the empty first-step cache from the declared input shapes: a dim named
 * exactly `batch_size` becomes the batch, other symbolic dims become 0, numbers are kept. So heads
 * and head_dim must be fixed numbers here.
 *
 * Why generation varies: the LM head is untied (with tied embeddings a random model tends to
 * predict the token it just saw, forever) and position embeddings are as large as word embeddings,
 * so the next token depends on both the current token and the position.
 */
import { BOOL, FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import type { BuiltModel } from './spec.ts';
import { CHATML_TEMPLATE } from './chat-templates.ts';
import { EOS_TOKEN, byteBpeFiles, isPrintableAsciiToken, trainByteBpe } from './tokenizer.ts';
import { type AttentionDims, MASKED, attend, feedForward, mergeHeads, splitHeads } from './transformer.ts';

const DIMS = { hidden: 32, layers: 2, heads: 4, intermediate: 128, positions: 512, merges: 700 };
/** Sizes of the decoder; the generation bench (perf/generation.ts) builds it larger. */
export type Gpt2Dims = typeof DIMS;
const SEED = 7;
const LN_EPS = 1e-5;
/**
 * LM-head biases, so a random model's greedy output reads like (nonsense) text:
 * eos is discouraged (generation should not stop after one token), byte tokens that are not
 * printable ASCII are suppressed (no control characters or broken UTF-8), and tokens starting
 * with a space get a small boost (word-like chunks).
 */
const EOS_BIAS = -4;
const NON_PRINTABLE_BIAS = -20;
const SPACE_PREFIX_BIAS = 1;

/** Causal + padding bias [B,1,S,T]: query i (absolute position T-S+i) sees key j iff j <= T-S+i and mask[j] = 1. */
export function causalBias(g: GraphBuilder, inputIds: string, attentionMask: string): string {
  const total = g.dim(attentionMask, 1); // T
  const past = g.op('Sub', [total, g.dim(inputIds, 1)]); // T - S
  const queryPos = g.op('Unsqueeze', [g.op('Range', [past, total, g.i64([1], [])]), g.i64([1])]); // [S,1]
  const keyPos = g.op('Range', [g.i64([0], []), total, g.i64([1], [])]); // [T]
  const causal = g.op('LessOrEqual', [keyPos, queryPos]); // [S,T]
  const notPadded = g.op('Cast', [g.op('Unsqueeze', [attentionMask, g.i64([1, 2])])], { to: int(BOOL) }); // [B,1,1,T]
  return g.op('Where', [g.op('And', [causal, notPadded]), g.f32(0), g.f32(MASKED)]);
}

/** `stops` (eos tokens) are discouraged, other `special` tokens (ChatML's <|im_start|>) suppressed. */
export function lmHeadBias(vocab: string[], stops: number[], special: number[] = []): Float32Array {
  return Float32Array.from(vocab, (token, id) => {
    if (stops.includes(id)) return EOS_BIAS;
    if (special.includes(id)) return NON_PRINTABLE_BIAS;
    if (!isPrintableAsciiToken(token)) return NON_PRINTABLE_BIAS;
    return token.startsWith('Ġ') ? SPACE_PREFIX_BIAS : 0;
  });
}

function decoderGraph(vocab: string[], headBias: Float32Array, dims: Gpt2Dims): Uint8Array {
  const vocabSize = vocab.length;
  const g = new GraphBuilder(SEED);
  const { hidden, heads, layers } = dims;
  const headDim = hidden / heads;
  const att: AttentionDims = { hidden, heads };

  const inputIds = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', INT64, ['batch_size', 'sequence_length']);
  const past: { key: string; value: string }[] = [];
  for (let l = 0; l < layers; l++) {
    const shape = ['batch_size', heads, 'past_sequence_length', headDim];
    past.push({
      key: g.input(`past_key_values.${l}.key`, FLOAT, shape),
      value: g.input(`past_key_values.${l}.value`, FLOAT, shape),
    });
  }

  const wte = g.weight('transformer.wte.weight', [vocabSize, hidden], 1.0);
  const wpe = g.weight('transformer.wpe.weight', [dims.positions, hidden], 1.0);
  let x = g.add(g.op('Gather', [wte, inputIds]), g.op('Gather', [wpe, positionIds]));
  const presents: { key: string; value: string }[] = [];
  const bias = causalBias(g, inputIds, attentionMask);

  for (let l = 0; l < layers; l++) {
    const p = `transformer.h.${l}`;
    const layerPast = past[l];
    if (!layerPast) throw new Error('unreachable');
    // Attention block (pre-LN): new keys/values are appended to the cache along the sequence axis.
    const h = g.layerNorm(x, `${p}.ln_1`, hidden, LN_EPS);
    const q = splitHeads(g, g.linear(h, `${p}.attn.q`, hidden, hidden), att, [0, 2, 1, 3]);
    const kNew = splitHeads(g, g.linear(h, `${p}.attn.k`, hidden, hidden), att, [0, 2, 1, 3]);
    const vNew = splitHeads(g, g.linear(h, `${p}.attn.v`, hidden, hidden), att, [0, 2, 1, 3]);
    const k = g.op('Concat', [layerPast.key, kNew], { axis: int(2) }); // [B,nh,T,hd]
    const v = g.op('Concat', [layerPast.value, vNew], { axis: int(2) });
    presents.push({ key: k, value: v });
    const kT = g.op('Transpose', [k], { perm: ints([0, 1, 3, 2]) });
    const ctx = mergeHeads(g, attend(g, q, kT, v, att, bias), att);
    x = g.add(x, g.linear(ctx, `${p}.attn.c_proj`, hidden, hidden));
    // MLP block (pre-LN).
    x = g.add(x, feedForward(g, g.layerNorm(x, `${p}.ln_2`, hidden, LN_EPS), `${p}.mlp`, hidden, dims.intermediate));
  }
  x = g.layerNorm(x, 'transformer.ln_f', hidden, LN_EPS);

  const lmHead = g.weight('lm_head.weight', [hidden, vocabSize], 1 / Math.sqrt(hidden));
  const logits = g.add(g.matmul(x, lmHead), g.tensor('lm_head.bias', [vocabSize], headBias));
  g.output(logits, 'logits', FLOAT, ['batch_size', 'sequence_length', vocabSize]);
  // Declared after logits so the output order reads like a GPT-2 export: logits, present.0.key, ...
  const presentShape = ['batch_size', heads, 'total_sequence_length', headDim];
  presents.forEach(({ key, value }, l) => {
    g.output(key, `present.${l}.key`, FLOAT, presentShape);
    g.output(value, `present.${l}.value`, FLOAT, presentShape);
  });
  return g.toBytes('gpt2', 'tiny GPT-2 style decoder with KV cache');
}

export const GPT2_STAMP = JSON.stringify({ DIMS, SEED, EOS_BIAS, NON_PRINTABLE_BIAS, SPACE_PREFIX_BIAS });

/** ChatML tokens of tiny/gpt2-chat, appended after GPT-2's vocab (as Qwen2 does): eos is <|im_end|>. */
const IM_START = '<|im_start|>';
const IM_END = '<|im_end|>';

/** tiny/gpt2 and tiny/gpt2-chat: the same decoder; the chat one has the ChatML tokens and template. */
function build(chat: boolean, dims: Gpt2Dims = DIMS, id?: string): BuiltModel {
  const trained = trainByteBpe(dims.merges);
  const vocab = chat ? [...trained.vocab, IM_START, IM_END] : trained.vocab;
  const merges = trained.merges;
  const eosId = vocab.indexOf(chat ? IM_END : EOS_TOKEN);
  const padId = vocab.indexOf(EOS_TOKEN);
  const stops = chat ? [eosId, padId] : [eosId];
  const bias = lmHeadBias(vocab, stops, chat ? [vocab.indexOf(IM_START)] : []);
  const config = {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu',
    attn_pdrop: 0.1,
    bos_token_id: padId,
    embd_pdrop: 0.1,
    eos_token_id: eosId,
    pad_token_id: padId,
    initializer_range: 0.02,
    layer_norm_epsilon: LN_EPS,
    n_ctx: dims.positions,
    n_embd: dims.hidden,
    n_head: dims.heads,
    n_inner: dims.intermediate,
    n_layer: dims.layers,
    n_positions: dims.positions,
    max_position_embeddings: dims.positions,
    resid_pdrop: 0.1,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: vocab.length,
  };
  // A chat model stops at <|im_end|> or <|endoftext|>, as Qwen2's generation_config lists both.
  const generationConfig = { bos_token_id: padId, eos_token_id: chat ? stops : eosId, pad_token_id: padId, do_sample: false };
  const summary =
    `A ${dims.layers}-layer GPT-2 style decoder (hidden ${dims.hidden}, ${dims.heads} heads, byte-level BPE vocab ${vocab.length}, ` +
    `${dims.positions} positions) with random weights and a KV cache. ONNX inputs: input_ids, attention_mask, position_ids, ` +
    `past_key_values.{0..${dims.layers - 1}}.key/value; outputs: logits, present.{0..${dims.layers - 1}}.key/value. ` +
    'Greedy decoding gives deterministic but meaningless text.' +
    (chat ? ' Chat: ChatML (<|im_start|>/<|im_end|>, eos <|im_end|>) with the Qwen2.5 template, tools included (Hermes <tool_call> answers).' : '');
  const tags = chat ? ['gpt2', 'text-generation', 'conversational', 'chatml', 'onnx', 'tiny', 'test'] : ['gpt2', 'text-generation', 'onnx', 'tiny', 'test'];
  return {
    id: id ?? (chat ? 'tiny/gpt2-chat' : 'tiny/gpt2'),
    card: { pipelineTag: 'text-generation', tags, summary },
    files: {
      'config.json': config,
      'generation_config.json': generationConfig,
      ...byteBpeFiles(vocab, merges, chat ? { special: [IM_START, IM_END], eos: IM_END, pad: EOS_TOKEN, chatTemplate: CHATML_TEMPLATE, tokenizerClass: 'Qwen2Tokenizer' } : {}),
      'onnx/model.onnx': decoderGraph(vocab, bias, dims),
    },
  };
}

export function buildGpt2(): BuiltModel {
  return build(false);
}

export function buildGpt2Chat(): BuiltModel {
  return build(true);
}

/** The same decoder at other sizes, under another id (the generation bench's model; never a test model). */
export function buildGpt2Sized(id: string, dims: Partial<Gpt2Dims>): BuiltModel {
  return build(false, { ...DIMS, ...dims }, id);
}
