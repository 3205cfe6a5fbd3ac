/**
 * tiny/vit-gpt2: a VisionEncoderDecoder captioner (ViT encoder + GPT-2 decoder with cross-attention), the
 * image-to-text model, laid out as transformers.js 4.3.1 loads Xenova/vit-gpt2-image-captioning:
 *
 * onnx/encoder_model.onnx
 *   input   pixel_values            float [batch_size, 3, 32, 32]
 *   output  last_hidden_state       float [batch_size, 17, 32]
 * onnx/decoder_model_merged.onnx (one graph for the first step and the cached steps)
 *   inputs  input_ids               int64 [batch_size, decoder_sequence_length]
 *           encoder_hidden_states   float [batch_size, encoder_sequence_length, 32]
 *           past_key_values.{i}.key/value  float [batch_size, 4, past_decoder_sequence_length, 8]
 *   outputs logits                  float [batch_size, decoder_sequence_length, vocab]
 *           present.{i}.key/value   (past + new self-attention keys/values)
 *
 * transformers.js normalises a vision-encoder-decoder config from its GPT-2 decoder as a decoder-only cache
 * (num_layers, num_heads, hidden_size): only self-attention keys/values travel between steps, so the decoder
 * recomputes the cross-attention keys/values from encoder_hidden_states at every step. Generation starts at
 * `decoder_start_token_id` (GPT-2's <|endoftext|>, as the real model) and stops at the same token.
 * The decoder has no attention mask: rows of a batch advance in lockstep and are never padded, so a causal mask
 * over positions past..past+S is all it needs. The cross-attention weights are large so that the caption depends
 * on the picture, not only on the position.
 */
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import { lmHeadBias } from './gpt2.ts';
import type { BuiltModel } from './spec.ts';
import { EOS_TOKEN, byteBpeFiles, trainByteBpe } from './tokenizer.ts';
import { type AttentionDims, MASKED, attend, feedForward, mergeHeads, splitHeads } from './transformer.ts';
import { TINY_VIT, patchCount, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const ENCODER = TINY_VIT;
const DECODER = { hidden: 32, layers: 2, heads: 4, intermediate: 64, positions: 128, merges: 400 };
const SEED = 41;
const LN_EPS = 1e-5;

function encoderGraph(): Uint8Array {
  const g = new GraphBuilder(SEED);
  const pixels = g.input('pixel_values', FLOAT, ['batch_size', ENCODER.channels, ENCODER.image, ENCODER.image]);
  const states = vitEncoder(g, pixels, ENCODER, 'encoder');
  g.output(states, 'last_hidden_state', FLOAT, ['batch_size', patchCount(ENCODER) + 1, ENCODER.hidden]);
  return g.toBytes('encoder', 'tiny ViT encoder of a VisionEncoderDecoder');
}

/** q from the decoder states [B,S,H], keys and values from the encoder states [B,T,H]. */
function heads(g: GraphBuilder, x: string, name: string, att: AttentionDims, std?: number): string {
  return splitHeads(g, g.linear(x, name, att.hidden, att.hidden, std === undefined ? {} : { std }), att, [0, 2, 1, 3]);
}

function decoderGraph(vocab: string[], headBias: Float32Array): Uint8Array {
  const g = new GraphBuilder(SEED + 1);
  const { hidden, heads: nh, layers } = DECODER;
  const hd = hidden / nh;
  const att: AttentionDims = { hidden, heads: nh };
  const ids = g.input('input_ids', INT64, ['batch_size', 'decoder_sequence_length']);
  const encoderStates = g.input('encoder_hidden_states', FLOAT, ['batch_size', 'encoder_sequence_length', ENCODER.hidden]);
  const past = Array.from({ length: layers }, (_, l) => {
    const shape = ['batch_size', nh, 'past_decoder_sequence_length', hd];
    return { key: g.input(`past_key_values.${l}.key`, FLOAT, shape), value: g.input(`past_key_values.${l}.value`, FLOAT, shape) };
  });
  const one = g.i64([1], []);
  const pastLength = g.dim(past[0]!.key, 2);
  const total = g.add(pastLength, g.dim(ids, 1));
  const positions = g.op('Range', [pastLength, total, one]);
  const wte = g.weight('decoder.transformer.wte.weight', [vocab.length, hidden], 1.0);
  const wpe = g.weight('decoder.transformer.wpe.weight', [DECODER.positions, hidden], 1.0);
  let x = g.add(g.op('Gather', [wte, ids]), g.op('Gather', [wpe, positions]));
  // Causal mask [S,T]: query at past+i sees keys 0..past+i.
  const queries = g.op('Unsqueeze', [positions, g.i64([1])]);
  const keys = g.op('Range', [g.i64([0], []), total, one]);
  const causal = g.op('Where', [g.op('LessOrEqual', [keys, queries]), g.f32(0), g.f32(MASKED)]);
  const presents: { key: string; value: string }[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `decoder.transformer.h.${l}`;
    const h = g.layerNorm(x, `${p}.ln_1`, hidden, LN_EPS);
    const k = g.op('Concat', [past[l]!.key, heads(g, h, `${p}.attn.k`, att)], { axis: int(2) });
    const v = g.op('Concat', [past[l]!.value, heads(g, h, `${p}.attn.v`, att)], { axis: int(2) });
    presents.push({ key: k, value: v });
    const self = attend(g, heads(g, h, `${p}.attn.q`, att), g.op('Transpose', [k], { perm: ints([0, 1, 3, 2]) }), v, att, causal);
    x = g.add(x, g.linear(mergeHeads(g, self, att), `${p}.attn.c_proj`, hidden, hidden));
    const c = g.layerNorm(x, `${p}.ln_cross_attn`, hidden, LN_EPS);
    const ck = heads(g, encoderStates, `${p}.crossattention.k`, att, 2 / Math.sqrt(hidden));
    const cv = heads(g, encoderStates, `${p}.crossattention.v`, att, 2 / Math.sqrt(hidden));
    const cross = attend(g, heads(g, c, `${p}.crossattention.q`, att, 2 / Math.sqrt(hidden)), g.op('Transpose', [ck], { perm: ints([0, 1, 3, 2]) }), cv, att, null);
    x = g.add(x, g.linear(mergeHeads(g, cross, att), `${p}.crossattention.c_proj`, hidden, hidden, { std: 2 / Math.sqrt(hidden) }));
    x = g.add(x, feedForward(g, g.layerNorm(x, `${p}.ln_2`, hidden, LN_EPS), `${p}.mlp`, hidden, DECODER.intermediate));
  }
  x = g.layerNorm(x, 'decoder.transformer.ln_f', hidden, LN_EPS);
  const logits = g.add(g.matmul(x, g.weight('decoder.lm_head.weight', [hidden, vocab.length], 1 / Math.sqrt(hidden))), g.tensor('decoder.lm_head.bias', [vocab.length], headBias));
  g.output(logits, 'logits', FLOAT, ['batch_size', 'decoder_sequence_length', vocab.length]);
  presents.forEach(({ key, value }, l) => {
    g.output(key, `present.${l}.key`, FLOAT, ['batch_size', nh, 'total_decoder_sequence_length', hd]);
    g.output(value, `present.${l}.value`, FLOAT, ['batch_size', nh, 'total_decoder_sequence_length', hd]);
  });
  return g.toBytes('decoder', 'tiny GPT-2 decoder with cross-attention and KV cache');
}

export const VIT_GPT2_STAMP = JSON.stringify({ ENCODER, DECODER, SEED, LN_EPS });

export function buildVitGpt2(): BuiltModel {
  const { vocab, merges } = trainByteBpe(DECODER.merges);
  const eos = vocab.indexOf(EOS_TOKEN);
  const special = { bos_token_id: eos, eos_token_id: eos, pad_token_id: eos, decoder_start_token_id: eos };
  const decoder = {
    model_type: 'gpt2',
    add_cross_attention: true,
    is_decoder: true,
    n_embd: DECODER.hidden,
    n_head: DECODER.heads,
    n_layer: DECODER.layers,
    n_inner: DECODER.intermediate,
    n_positions: DECODER.positions,
    n_ctx: DECODER.positions,
    layer_norm_epsilon: LN_EPS,
    activation_function: 'gelu',
    vocab_size: vocab.length,
    ...special,
  };
  const config = {
    architectures: ['VisionEncoderDecoderModel'],
    model_type: 'vision-encoder-decoder',
    is_encoder_decoder: true,
    tie_word_embeddings: false,
    encoder: { model_type: 'vit', architectures: ['ViTModel'], ...vitConfigFields(ENCODER) },
    decoder,
    ...special,
  };
  const summary =
    `A VisionEncoderDecoder captioner: a ${ENCODER.layers}-layer ViT encoder (${ENCODER.image}×${ENCODER.image} RGB, ${ENCODER.patch}×${ENCODER.patch} patches) ` +
    `and a ${DECODER.layers}-layer GPT-2 decoder with cross-attention (hidden ${DECODER.hidden}, byte-level BPE vocab ${vocab.length}), random weights. ` +
    'ONNX: encoder_model.onnx (pixel_values -> last_hidden_state) and decoder_model_merged.onnx (input_ids, encoder_hidden_states, ' +
    `past_key_values.{0..${DECODER.layers - 1}}.key/value -> logits, present.*). Greedy captions are deterministic nonsense.`;
  return {
    id: 'tiny/vit-gpt2',
    card: { pipelineTag: 'image-to-text', tags: ['vision-encoder-decoder', 'image-to-text', 'image-captioning', 'vit', 'gpt2', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': config,
      'generation_config.json': { ...special, max_length: 20 },
      'preprocessor_config.json': vitPreprocessor(ENCODER, 'ViTImageProcessor'),
      ...byteBpeFiles(vocab, merges),
      'onnx/encoder_model.onnx': encoderGraph(),
      'onnx/decoder_model_merged.onnx': decoderGraph(vocab, lmHeadBias(vocab, [eos])),
    },
  };
}
