/**
 * The ViT encoder shared by the vision models of the factory (YOLOS detector, depth, image features, CLIP's vision
 * tower, the image-to-text encoder): patch convolution, [CLS], optional extra learned tokens (YOLOS' detection
 * tokens), learned positions, pre-LayerNorm layers and a final LayerNorm. tiny/vit predates it and keeps its own copy,
 * so its bytes (and stamp) do not change.
 *
 * Shapes: pixel_values [B, C, S, S] -> hidden states [B, 1 + (S/P)² + extra, H].
 */
import { type GraphBuilder, int, ints } from './graph.ts';
import { feedForward, selfAttention } from './transformer.ts';

export interface VitDims {
  image: number;
  patch: number;
  channels: number;
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
}

/** The small size every vision model here uses: 32×32 RGB, 8×8 patches, 2 layers of width 32. */
export const TINY_VIT: VitDims = { image: 32, patch: 8, channels: 3, hidden: 32, layers: 2, heads: 4, intermediate: 64 };

export const VIT_LN_EPS = 1e-12;

export function patchCount(d: VitDims): number {
  return (d.image / d.patch) ** 2;
}

/** The ViT image processor settings for `d` (resize to a fixed square, rescale, normalise around 0.5). */
export function vitPreprocessor(d: VitDims, processorType: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image_processor_type: processorType,
    do_resize: true,
    size: { height: d.image, width: d.image },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    ...extra,
  };
}

/** The config.json fields a ViT-family model shares. */
export function vitConfigFields(d: VitDims): Record<string, unknown> {
  return {
    hidden_size: d.hidden,
    image_size: d.image,
    patch_size: d.patch,
    num_channels: d.channels,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    intermediate_size: d.intermediate,
    hidden_act: 'gelu',
    layer_norm_eps: VIT_LN_EPS,
    qkv_bias: true,
    torch_dtype: 'float32',
  };
}

/**
 * Encodes `pixels` [B, C, S, S]; `extraTokens` learned tokens (YOLOS detection tokens) follow the patches.
 * Returns the final-LayerNorm'd states [B, 1 + patches + extraTokens, H].
 */
export function vitEncoder(g: GraphBuilder, pixels: string, d: VitDims, prefix: string, extraTokens = 0): string {
  const { hidden, patch, channels } = d;
  const tokens = patchCount(d) + 1 + extraTokens;
  const convW = g.weight(`${prefix}.embeddings.patch_embeddings.projection.weight`, [hidden, channels, patch, patch], 1 / Math.sqrt(channels * patch * patch));
  const convB = g.weight(`${prefix}.embeddings.patch_embeddings.projection.bias`, [hidden], 0.1);
  const conv = g.op('Conv', [pixels, convW, convB], { kernel_shape: ints([patch, patch]), strides: ints([patch, patch]) });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.i64([0, hidden, -1])])], { perm: ints([0, 2, 1]) }); // [B,P,H]

  const batch = g.op('Shape', [pixels], { start: int(0), end: int(1) });
  const expand = (name: string, count: number) =>
    g.op('Expand', [g.weight(name, [1, count, hidden], 1.0), g.op('Concat', [batch, g.i64([count, hidden])], { axis: int(0) })]);
  const parts = [expand(`${prefix}.embeddings.cls_token`, 1), patches];
  if (extraTokens > 0) parts.push(expand(`${prefix}.embeddings.detection_tokens`, extraTokens));
  let x = g.op('Concat', parts, { axis: int(1) });
  x = g.add(x, g.weight(`${prefix}.embeddings.position_embeddings`, [1, tokens, hidden], 0.5));

  const att = { hidden, heads: d.heads };
  for (let l = 0; l < d.layers; l++) {
    const p = `${prefix}.encoder.layer.${l}`;
    x = g.add(x, selfAttention(g, g.layerNorm(x, `${p}.layernorm_before`, hidden, VIT_LN_EPS), `${p}.attention`, att, null));
    x = g.add(x, feedForward(g, g.layerNorm(x, `${p}.layernorm_after`, hidden, VIT_LN_EPS), p, hidden, d.intermediate));
  }
  return g.layerNorm(x, `${prefix}.layernorm`, hidden, VIT_LN_EPS);
}

/** Tokens `from`..`to`-1 of states [B, T, H] (e.g. the detection tokens, or the patches without [CLS]). */
export function tokenSlice(g: GraphBuilder, x: string, from: number, to: number): string {
  return g.op('Slice', [x, g.i64([from]), g.i64([to]), g.i64([1])]);
}
