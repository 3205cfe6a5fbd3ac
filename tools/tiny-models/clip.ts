/**
 * tiny/clip: a CLIP-shaped dual encoder (text tower + vision tower + logit_scale), the zero-shot-image-classification
 * model. transformers.js loads CLIPModel from one onnx/model.onnx, as the Xenova CLIP exports have it.
 *
 * Graph inputs:  input_ids, attention_mask int64 [text_batch_size, sequence_length]
 *                pixel_values             float [image_batch_size, 3, 32, 32]
 * Graph outputs: logits_per_image float [image_batch_size, text_batch_size]
 *                logits_per_text  float [text_batch_size, image_batch_size]
 *                text_embeds      float [text_batch_size, 16], image_embeds float [image_batch_size, 16] (L2-normalised)
 *
 * Text tower: token + learned position embeddings, 2 bidirectional layers with a padding mask, final LayerNorm, mean
 * over attended tokens (real CLIP takes the eos token's state; with right padding and eos last, both are functions of
 * the attended tokens only), projection. Vision tower: the shared ViT, [CLS], projection. Logits are the cosine
 * similarities times exp(logit_scale), CLIP's initial ln(1/0.07). The tokenizer is the factory's byte-level BPE with
 * CLIP's <|startoftext|> / <|endoftext|> tokens and 77 positions.
 */
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import type { BuiltModel } from './spec.ts';
import { EOS_TOKEN, byteBpeFiles, trainByteBpe } from './tokenizer.ts';
import { feedForward, paddingBias, selfAttention } from './transformer.ts';
import { TINY_VIT, vitConfigFields, vitEncoder, vitPreprocessor } from './vision.ts';

const VISION = TINY_VIT;
const TEXT = { hidden: 32, layers: 2, heads: 4, intermediate: 64, positions: 77 };
const PROJECTION = 16;
const MERGES = 400;
const SEED = 37;
const LOGIT_SCALE = Math.log(1 / 0.07);
const LN_EPS = 1e-5;
const BOS = '<|startoftext|>';

function l2Normalize(g: GraphBuilder, x: string): string {
  const norm = g.op('Sqrt', [g.op('ReduceSum', [g.mul(x, x), g.i64([-1])], { keepdims: int(1) })]);
  return g.op('Div', [x, norm]);
}

function textTower(g: GraphBuilder, vocab: number): string {
  const ids = g.input('input_ids', INT64, ['text_batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', INT64, ['text_batch_size', 'sequence_length']);
  const tokens = g.op('Gather', [g.weight('text_model.embeddings.token_embedding.weight', [vocab, TEXT.hidden], 1.0), ids]);
  const positions = g.op('Range', [g.i64([0], []), g.dim(ids, 1), g.i64([1], [])]);
  let x = g.add(tokens, g.op('Gather', [g.weight('text_model.embeddings.position_embedding.weight', [TEXT.positions, TEXT.hidden], 0.5), positions]));
  const bias = paddingBias(g, mask);
  const att = { hidden: TEXT.hidden, heads: TEXT.heads };
  for (let l = 0; l < TEXT.layers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    x = g.add(x, selfAttention(g, g.layerNorm(x, `${p}.layer_norm1`, TEXT.hidden, LN_EPS), `${p}.self_attn`, att, bias));
    x = g.add(x, feedForward(g, g.layerNorm(x, `${p}.layer_norm2`, TEXT.hidden, LN_EPS), `${p}.mlp`, TEXT.hidden, TEXT.intermediate));
  }
  x = g.layerNorm(x, 'text_model.final_layer_norm', TEXT.hidden, LN_EPS);
  const weights = g.op('Unsqueeze', [g.op('Cast', [mask], { to: int(FLOAT) }), g.i64([2])]); // [T,S,1]
  const pooled = g.op('Div', [g.op('ReduceSum', [g.mul(x, weights), g.i64([1])], { keepdims: int(0) }), g.op('ReduceSum', [weights, g.i64([1])], { keepdims: int(0) })]);
  return l2Normalize(g, g.matmul(pooled, g.weight('text_projection.weight', [TEXT.hidden, PROJECTION], 1 / Math.sqrt(TEXT.hidden))));
}

function clipGraph(vocab: number): Uint8Array {
  const g = new GraphBuilder(SEED);
  const textEmbeds = textTower(g, vocab);
  const pixels = g.input('pixel_values', FLOAT, ['image_batch_size', VISION.channels, VISION.image, VISION.image]);
  const cls = g.op('Gather', [vitEncoder(g, pixels, VISION, 'vision_model'), g.i64([0], [])], { axis: int(1) });
  const imageEmbeds = l2Normalize(g, g.matmul(cls, g.weight('visual_projection.weight', [VISION.hidden, PROJECTION], 1 / Math.sqrt(VISION.hidden))));
  const scale = g.op('Exp', [g.tensor('logit_scale', [], Float32Array.of(LOGIT_SCALE))]);
  const perImage = g.mul(g.matmul(imageEmbeds, g.op('Transpose', [textEmbeds], { perm: ints([1, 0]) })), scale);
  g.output(perImage, 'logits_per_image', FLOAT, ['image_batch_size', 'text_batch_size']);
  g.output(g.op('Transpose', [perImage], { perm: ints([1, 0]) }), 'logits_per_text', FLOAT, ['text_batch_size', 'image_batch_size']);
  g.output(textEmbeds, 'text_embeds', FLOAT, ['text_batch_size', PROJECTION]);
  g.output(imageEmbeds, 'image_embeds', FLOAT, ['image_batch_size', PROJECTION]);
  return g.toBytes('clip', 'tiny CLIP-shaped dual encoder');
}

export const CLIP_STAMP = JSON.stringify({ VISION, TEXT, PROJECTION, MERGES, SEED, LOGIT_SCALE });

export function buildClip(): BuiltModel {
  const trained = trainByteBpe(MERGES);
  const vocab = [...trained.vocab, BOS];
  const tokenizer = byteBpeFiles(vocab, trained.merges, { special: [BOS], bos: BOS, eos: EOS_TOKEN, pad: EOS_TOKEN, tokenizerClass: 'CLIPTokenizer' });
  // CLIP's text tower has 77 positions: the pipeline truncates longer label texts to fit.
  const tokenizerConfig = { ...(tokenizer['tokenizer_config.json'] as object), model_max_length: TEXT.positions };
  const config = {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: PROJECTION,
    logit_scale_init_value: LOGIT_SCALE,
    text_config: { model_type: 'clip_text_model', hidden_size: TEXT.hidden, num_hidden_layers: TEXT.layers, num_attention_heads: TEXT.heads, intermediate_size: TEXT.intermediate, max_position_embeddings: TEXT.positions, vocab_size: vocab.length, projection_dim: PROJECTION, bos_token_id: vocab.indexOf(BOS), eos_token_id: vocab.indexOf(EOS_TOKEN), pad_token_id: vocab.indexOf(EOS_TOKEN) },
    vision_config: { model_type: 'clip_vision_model', ...vitConfigFields(VISION), projection_dim: PROJECTION },
    torch_dtype: 'float32',
  };
  const summary =
    `A CLIP-shaped dual encoder with random weights: a ${TEXT.layers}-layer text tower (hidden ${TEXT.hidden}, byte-level BPE vocab ${vocab.length}, ` +
    `${TEXT.positions} positions) and a ${VISION.layers}-layer ViT (${VISION.patch}×${VISION.patch} patches of ${VISION.image}×${VISION.image} RGB images), ` +
    `both projected to ${PROJECTION} dimensions, with logit_scale ln(1/0.07). ONNX inputs: input_ids, attention_mask, pixel_values; outputs: ` +
    'logits_per_image, logits_per_text, text_embeds, image_embeds.';
  return {
    id: 'tiny/clip',
    card: { pipelineTag: 'zero-shot-image-classification', tags: ['clip', 'zero-shot-image-classification', 'vision', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': config,
      ...tokenizer,
      'tokenizer_config.json': tokenizerConfig,
      'preprocessor_config.json': vitPreprocessor(VISION, 'CLIPImageProcessor', { crop_size: { height: VISION.image, width: VISION.image }, do_center_crop: false }),
      'onnx/model.onnx': clipGraph(vocab.length),
    },
  };
}
