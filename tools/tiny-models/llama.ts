/**
 * tiny/llama-chat: a Llama-style decoder, the shape of most chat models today.
 *
 * Per layer: RMSNorm, attention with rotary position embeddings (RoPE, rotate-half form) and grouped-query
 * attention (2 key/value heads shared by 4 query heads), RMSNorm, SwiGLU MLP (down(silu(gate(x)) * up(x))); no
 * biases; a final RMSNorm and an untied LM head. Written in opset 18, which has no RMSNormalization op, so
 * RMSNorm is spelled out (x / sqrt(mean(x²) + eps) * weight).
 *
 * Graph inputs, as transformers.js feeds a `model_type: llama` export (it builds `position_ids` from the
 * attention mask when the graph declares it, which RoPE needs):
 *   input_ids       int64 [batch_size, sequence_length]
 *   attention_mask  int64 [batch_size, total_sequence_length]
 *   position_ids    int64 [batch_size, sequence_length]
 *   past_key_values.{i}.key / .value  float [batch_size, kv_heads, past_sequence_length, head_dim]
 * Graph outputs: logits [batch_size, sequence_length, vocab], present.{i}.key / .value (keys cached after RoPE,
 * as Hugging Face does).
 *
 * Grouped-query attention without copying the cache: queries are viewed as [B, kv_heads, group, S, hd] and keys
 * as [B, kv_heads, 1, T, hd], so MatMul's broadcasting pairs every query head with its key/value head (query
 * head h uses kv head floor(h / group), as Hugging Face's repeat_kv does).
 *
 * Tokenizer: Llama 3's kind (byte-level BPE after a regex split, `<|begin_of_text|>` prepended, header and
 * end-of-turn special tokens) with merges learned from the embedded word list; template: Llama 3.1's, with tools.
 */
import { LLAMA3_TEMPLATE } from './chat-templates.ts';
import { FLOAT, GraphBuilder, INT64, int, ints } from './graph.ts';
import { causalBias, lmHeadBias } from './gpt2.ts';
import { Rng } from './rng.ts';
import type { BuiltModel } from './spec.ts';
import { EOS_TOKEN, byteBpeFiles, trainByteBpe } from './tokenizer.ts';

const DIMS = { hidden: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 12, intermediate: 96, positions: 1024, merges: 600 };
/** Sizes of the decoder; the generation bench (perf/generation.ts) builds it larger. */
export type LlamaDims = typeof DIMS;
const SEED = 11;
const RMS_EPS = 1e-5;
const ROPE_THETA = 10000;

const BEGIN = '<|begin_of_text|>';
const END = '<|end_of_text|>';
const EOT = '<|eot_id|>';
const EOM = '<|eom_id|>';
const SPECIAL = [BEGIN, END, '<|start_header_id|>', '<|end_header_id|>', '<|python_tag|>', EOM, EOT];

export const LLAMA_STAMP = JSON.stringify({ DIMS, SEED, RMS_EPS, ROPE_THETA, SPECIAL });

function rmsNorm(g: GraphBuilder, x: string, name: string, dim: number): string {
  const gain = g.tensor(name, [dim], Rng.forTensor(SEED, name).uniformArray(dim, 0.1).map((v) => 1 + v));
  const meanSquare = g.op('ReduceMean', [g.mul(x, x), g.i64([-1])], { keepdims: int(1) });
  const inverse = g.op('Reciprocal', [g.op('Sqrt', [g.add(meanSquare, g.f32(RMS_EPS))])]);
  return g.mul(g.mul(x, inverse), gain);
}

/** x @ W for W [inDim, outDim], no bias (Llama's projections have none). */
function project(g: GraphBuilder, x: string, name: string, inDim: number, outDim: number): string {
  return g.matmul(x, g.weight(name, [inDim, outDim], 1 / Math.sqrt(inDim)));
}

/** cos and sin of the rotary angles, [B, 1, S, hd], from position_ids [B, S]: shared by every layer. */
function rotaryTables(g: GraphBuilder, positionIds: string, headDim: number): { cos: string; sin: string } {
  const half = headDim / 2;
  const invFreq = Float32Array.from({ length: half }, (_, i) => 1 / ROPE_THETA ** ((2 * i) / headDim));
  const positions = g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: int(FLOAT) }), g.i64([2])]); // [B,S,1]
  const freqs = g.mul(positions, g.tensor('rotary.inv_freq', [half], invFreq)); // [B,S,hd/2]
  const angles = g.op('Concat', [freqs, freqs], { axis: int(-1) }); // [B,S,hd]
  const heads = (t: string) => g.op('Unsqueeze', [t, g.i64([1])]);
  return { cos: heads(g.op('Cos', [angles])), sin: heads(g.op('Sin', [angles])) };
}

/** x·cos + rotate_half(x)·sin for x [B, heads, S, hd], rotate_half(x) = [-x2, x1]. */
function rotate(g: GraphBuilder, x: string, rope: { cos: string; sin: string; headDim: number }): string {
  const half = rope.headDim / 2;
  const axis = g.i64([3]);
  const x1 = g.op('Slice', [x, g.i64([0]), g.i64([half]), axis]);
  const x2 = g.op('Slice', [x, g.i64([half]), g.i64([rope.headDim]), axis]);
  const rotated = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: int(3) });
  return g.add(g.mul(x, rope.cos), g.mul(rotated, rope.sin));
}

/** [B, S, heads·hd] -> [B, heads, S, hd]. */
function heads(g: GraphBuilder, x: string, shape: { count: number; headDim: number }): string {
  return g.op('Transpose', [g.op('Reshape', [x, g.i64([0, 0, shape.count, shape.headDim])])], { perm: ints([0, 2, 1, 3]) });
}

function decoderGraph(vocab: string[], bias: Float32Array, dims: LlamaDims): Uint8Array {
  const { hidden, layers, heads: nh, kvHeads, headDim, intermediate } = dims;
  const group = nh / kvHeads;
  const g = new GraphBuilder(SEED);
  const inputIds = g.input('input_ids', INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', INT64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', INT64, ['batch_size', 'sequence_length']);
  const past = Array.from({ length: layers }, (_, l) => {
    const shape = ['batch_size', kvHeads, 'past_sequence_length', headDim];
    return { key: g.input(`past_key_values.${l}.key`, FLOAT, shape), value: g.input(`past_key_values.${l}.value`, FLOAT, shape) };
  });

  let x = g.op('Gather', [g.weight('model.embed_tokens.weight', [vocab.length, hidden], 1.0), inputIds]);
  const rope = { ...rotaryTables(g, positionIds, headDim), headDim };
  const mask = g.op('Unsqueeze', [causalBias(g, inputIds, attentionMask), g.i64([1])]); // [B,1,1,S,T]
  const presents: { key: string; value: string }[] = [];

  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(g, x, `${p}.input_layernorm.weight`, hidden);
    const q = rotate(g, heads(g, project(g, h, `${p}.self_attn.q_proj.weight`, hidden, nh * headDim), { count: nh, headDim }), rope);
    const kNew = rotate(g, heads(g, project(g, h, `${p}.self_attn.k_proj.weight`, hidden, kvHeads * headDim), { count: kvHeads, headDim }), rope);
    const vNew = heads(g, project(g, h, `${p}.self_attn.v_proj.weight`, hidden, kvHeads * headDim), { count: kvHeads, headDim });
    const k = g.op('Concat', [past[l]!.key, kNew], { axis: int(2) }); // [B,kv,T,hd]
    const v = g.op('Concat', [past[l]!.value, vNew], { axis: int(2) });
    presents.push({ key: k, value: v });
    const q5 = g.op('Reshape', [q, g.i64([0, kvHeads, group, -1, headDim])]); // [B,kv,group,S,hd]
    const kT5 = g.op('Transpose', [g.op('Unsqueeze', [k, g.i64([2])])], { perm: ints([0, 1, 2, 4, 3]) }); // [B,kv,1,hd,T]
    const scores = g.add(g.mul(g.matmul(q5, kT5), g.f32(1 / Math.sqrt(headDim))), mask);
    const ctx5 = g.matmul(g.op('Softmax', [scores], { axis: int(-1) }), g.op('Unsqueeze', [v, g.i64([2])])); // [B,kv,group,S,hd]
    const ctx = g.op('Reshape', [g.op('Transpose', [g.op('Reshape', [ctx5, g.i64([0, nh, -1, headDim])])], { perm: ints([0, 2, 1, 3]) }), g.i64([0, 0, nh * headDim])]);
    x = g.add(x, project(g, ctx, `${p}.self_attn.o_proj.weight`, nh * headDim, hidden));
    // SwiGLU MLP.
    const m = rmsNorm(g, x, `${p}.post_attention_layernorm.weight`, hidden);
    const gate = project(g, m, `${p}.mlp.gate_proj.weight`, hidden, intermediate);
    const silu = g.mul(gate, g.op('Sigmoid', [gate]));
    x = g.add(x, project(g, g.mul(silu, project(g, m, `${p}.mlp.up_proj.weight`, hidden, intermediate)), `${p}.mlp.down_proj.weight`, intermediate, hidden));
  }
  x = rmsNorm(g, x, 'model.norm.weight', hidden);
  // The bias is not Llama's (it has none): it keeps a random model's text printable, as for tiny/gpt2.
  const logits = g.add(project(g, x, 'lm_head.weight', hidden, vocab.length), g.tensor('lm_head.bias', [vocab.length], bias));
  g.output(logits, 'logits', FLOAT, ['batch_size', 'sequence_length', vocab.length]);
  const presentShape = ['batch_size', kvHeads, 'total_sequence_length', headDim];
  presents.forEach(({ key, value }, l) => {
    g.output(key, `present.${l}.key`, FLOAT, presentShape);
    g.output(value, `present.${l}.value`, FLOAT, presentShape);
  });
  return g.toBytes('llama', 'tiny Llama-style decoder (RMSNorm, RoPE, GQA, SwiGLU) with KV cache');
}

export function buildLlamaChat(): BuiltModel {
  return build(DIMS, 'tiny/llama-chat');
}

/** The same decoder at other sizes, under another id (the generation bench's model; never a test model). */
export function buildLlamaSized(id: string, dims: Partial<LlamaDims>): BuiltModel {
  return build({ ...DIMS, ...dims }, id);
}

function build(dims: LlamaDims, modelId: string): BuiltModel {
  const trained = trainByteBpe(dims.merges);
  const vocab = [...trained.vocab.filter((t) => t !== EOS_TOKEN), ...SPECIAL];
  const id = (t: string) => vocab.indexOf(t);
  const stops = [id(END), id(EOM), id(EOT)];
  const bias = lmHeadBias(vocab, stops, SPECIAL.filter((t) => !stops.includes(id(t))).map(id));
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    attention_bias: false,
    bos_token_id: id(BEGIN),
    eos_token_id: stops,
    head_dim: dims.headDim,
    hidden_act: 'silu',
    hidden_size: dims.hidden,
    intermediate_size: dims.intermediate,
    max_position_embeddings: dims.positions,
    mlp_bias: false,
    num_attention_heads: dims.heads,
    num_hidden_layers: dims.layers,
    num_key_value_heads: dims.kvHeads,
    rms_norm_eps: RMS_EPS,
    rope_theta: ROPE_THETA,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    use_cache: true,
    vocab_size: vocab.length,
  };
  const summary =
    `A ${dims.layers}-layer Llama-style decoder (hidden ${dims.hidden}, ${dims.heads} query heads sharing ${dims.kvHeads} key/value heads, ` +
    `head size ${dims.headDim}, SwiGLU ${dims.intermediate}, RMSNorm, rotary positions, byte-level BPE vocab ${vocab.length}) with random ` +
    'weights and a KV cache. ONNX inputs: input_ids, attention_mask, position_ids, past_key_values.{i}.key/value; outputs: logits, ' +
    'present.{i}.key/value. Chat: the Llama 3.1 template with tools (JSON {"name", "parameters"} calls); stops at <|eot_id|>, <|eom_id|> or <|end_of_text|>.';
  return {
    id: modelId,
    card: { pipelineTag: 'text-generation', tags: ['llama', 'text-generation', 'conversational', 'onnx', 'tiny', 'test'], summary },
    files: {
      'config.json': config,
      'generation_config.json': { bos_token_id: id(BEGIN), eos_token_id: stops, do_sample: false },
      ...byteBpeFiles(vocab, trained.merges, {
        special: SPECIAL,
        eos: EOT,
        bos: BEGIN,
        pad: END,
        chatTemplate: LLAMA3_TEMPLATE,
        llama3Split: true,
        tokenizerClass: 'PreTrainedTokenizerFast',
      }),
      'onnx/model.onnx': decoderGraph(vocab, bias, dims),
    },
  };
}
