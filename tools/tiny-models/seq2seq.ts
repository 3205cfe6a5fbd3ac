/**
 * The encoder-decoder models: tiny/t5 (text2text-generation), tiny/bart (summarization) and tiny/marian
 * (translation). Each has the config.json, generation_config.json and tokenizer its real counterpart has, so
 * transformers.js picks the same classes (T5ForConditionalGeneration + T5Tokenizer, BartForConditionalGeneration +
 * BartTokenizer, MarianMTModel + MarianTokenizer) and applies the same generation settings.
 */
import { type Seq2SeqArch, type Seq2SeqDims, decoderGraph, encoderGraph } from './seq2seq-graph.ts';
import { bartFiles, bartVocab, unigramFiles, unigramPieces } from './seq2seq-tokenizers.ts';
import type { BuiltModel } from './spec.ts';
import { bytesToUnicode, isPrintableAsciiToken } from './tokenizer.ts';

const DIMS: Seq2SeqDims = { d: 32, layers: 2, heads: 4, ffn: 64 };
const MAX_LENGTH = 512;
const BPE_MERGES = 700;
/** Marian's target languages, chosen by a `>>xx<<` token at the start of the source text. */
export const MARIAN_LANGUAGES = ['fr', 'es', 'de'] as const;

/**
 * final_logits_bias (BART, Marian): no special or unprintable tokens in the text, and an eos bias per model, tuned
 * so that greedy outputs end at different lengths (some within 30 tokens), as the batching tests need.
 */
const EOS_BIAS = { bart: 7, marian: 10 };
const SUPPRESSED = -20;

const TAGS = ['onnx', 'tiny', 'test', 'text2text-generation'];

function graphs(arch: Seq2SeqArch) {
  return { 'onnx/encoder_model.onnx': encoderGraph(arch), 'onnx/decoder_model_merged.onnx': decoderGraph(arch) };
}

function summary(kind: string, arch: Seq2SeqArch, tokenizer: string, extra: string): string {
  const { d, layers, heads, ffn } = arch.dims;
  return (
    `A ${kind} encoder-decoder (${layers}+${layers} layers, d_model ${d}, ${heads} heads, ffn ${ffn}, vocab ${arch.vocab}) with random ` +
    `weights and a ${tokenizer} tokenizer. ONNX files as transformers.js loads encoder-decoders: onnx/encoder_model.onnx ` +
    '(input_ids, attention_mask → last_hidden_state) and onnx/decoder_model_merged.onnx (encoder_attention_mask, input_ids, ' +
    `encoder_hidden_states, past_key_values.{i}.decoder/encoder.key/value → logits, present.*). ${extra} ` +
    'Greedy decoding gives deterministic but meaningless text.'
  );
}

export const SEQ2SEQ_STAMP = JSON.stringify({ DIMS, MAX_LENGTH, BPE_MERGES, MARIAN_LANGUAGES, EOS_BIAS, SUPPRESSED });

export function buildT5(): BuiltModel {
  const specials = ['<pad>', '</s>', '<unk>'].map((content, id) => ({ id, content }));
  const vocab: [string, number][] = [...specials.map((s): [string, number] => [s.content, 0]), ...unigramPieces()];
  const arch: Seq2SeqArch = {
    dims: DIMS,
    vocab: vocab.length,
    seed: 21,
    norm: 'rms-pre',
    positions: { kind: 'relative', buckets: 32, maxDistance: 128 },
    embedScale: 1,
    embedStd: 1,
    layernormEmbedding: false,
    activation: 'gated-gelu',
    bias: false,
    scaleScores: false,
    lmHead: { kind: 'untied' },
    eps: 1e-6,
  };
  const config = {
    architectures: ['T5ForConditionalGeneration'],
    model_type: 't5',
    d_model: DIMS.d,
    d_kv: DIMS.d / DIMS.heads,
    d_ff: DIMS.ffn,
    num_layers: DIMS.layers,
    num_decoder_layers: DIMS.layers,
    num_heads: DIMS.heads,
    relative_attention_num_buckets: 32,
    relative_attention_max_distance: 128,
    dropout_rate: 0.1,
    layer_norm_epsilon: arch.eps,
    feed_forward_proj: 'gated-gelu',
    dense_act_fn: 'gelu_new',
    is_gated_act: true,
    is_encoder_decoder: true,
    tie_word_embeddings: false,
    use_cache: true,
    pad_token_id: 0,
    eos_token_id: 1,
    decoder_start_token_id: 0,
    n_positions: MAX_LENGTH,
    vocab_size: vocab.length,
    // As t5-small: the summarization pipeline prepends "summarize: "; translation prefixes name the pair.
    task_specific_params: {
      summarization: { prefix: 'summarize: ' },
      translation_en_to_fr: { prefix: 'translate English to French: ' },
      translation_en_to_de: { prefix: 'translate English to German: ' },
    },
  };
  return {
    id: 'tiny/t5',
    card: {
      pipelineTag: 'text2text-generation',
      tags: ['t5', ...TAGS, 'summarization', 'translation'],
      summary: summary(
        'T5-style (FLAN-T5 shape: pre-RMSNorm, bucketed relative position bias, gated GELU, untied LM head)',
        arch,
        'SentencePiece Unigram',
        'config task_specific_params give the "summarize: " and "translate English to French/German: " prefixes.',
      ),
    },
    files: {
      'config.json': config,
      'generation_config.json': { decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 },
      ...unigramFiles({
        vocab,
        specials,
        unkId: 2,
        eosToken: '</s>',
        config: { tokenizer_class: 'T5Tokenizer', eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', extra_ids: 0, model_max_length: MAX_LENGTH },
      }),
      ...graphs(arch),
    },
  };
}

/** final_logits_bias over a vocabulary: `suppress` tokens never win, eos is discouraged, word starts encouraged. */
function logitsBias(vocab: string[], eos: [string, number], suppress: (token: string) => boolean, wordStart: string): Float32Array {
  return Float32Array.from(vocab, (token) => {
    if (token === eos[0]) return eos[1];
    if (suppress(token)) return SUPPRESSED;
    return token.startsWith(wordStart) ? 1 : 0;
  });
}

export function buildBart(): BuiltModel {
  const { vocab, merges } = bartVocab(BPE_MERGES);
  const byteChars = new Set(bytesToUnicode());
  const special = new Set(['<s>', '<pad>', '<unk>', '<mask>']);
  const arch: Seq2SeqArch = {
    dims: DIMS,
    vocab: vocab.length,
    seed: 22,
    norm: 'layer-post',
    positions: { kind: 'learned', max: MAX_LENGTH, offset: 2 },
    embedScale: 1,
    embedStd: 1,
    layernormEmbedding: true,
    activation: 'gelu',
    bias: true,
    scaleScores: true,
    lmHead: {
      kind: 'tied',
      finalLogitsBias: logitsBias(vocab, ['</s>', EOS_BIAS.bart], (t) => special.has(t) || (byteChars.has(t[0] ?? '') && !isPrintableAsciiToken(t)), 'Ġ'),
    },
    eps: 1e-5,
  };
  const ids = { bos_token_id: 0, pad_token_id: 1, eos_token_id: 2, decoder_start_token_id: 2, forced_bos_token_id: 0, forced_eos_token_id: 2 };
  const config = {
    architectures: ['BartForConditionalGeneration'],
    model_type: 'bart',
    activation_function: 'gelu',
    d_model: DIMS.d,
    encoder_layers: DIMS.layers,
    decoder_layers: DIMS.layers,
    encoder_attention_heads: DIMS.heads,
    decoder_attention_heads: DIMS.heads,
    encoder_ffn_dim: DIMS.ffn,
    decoder_ffn_dim: DIMS.ffn,
    max_position_embeddings: MAX_LENGTH,
    scale_embedding: false,
    normalize_before: false,
    add_final_layer_norm: false,
    is_encoder_decoder: true,
    tie_word_embeddings: true,
    use_cache: true,
    vocab_size: vocab.length,
    ...ids,
  };
  return {
    id: 'tiny/bart',
    card: {
      pipelineTag: 'summarization',
      tags: ['bart', ...TAGS, 'summarization'],
      summary: summary(
        'BART-style (post-LayerNorm, learned positions offset by 2, GELU, tied LM head + final_logits_bias)',
        arch,
        'byte-level BPE (RoBERTa-style <s> … </s>)',
        'generation_config.json forces <s> first and </s> last and sets no_repeat_ngram_size 3, as bart-large-cnn does.',
      ),
    },
    files: {
      'config.json': config,
      'generation_config.json': { ...ids, no_repeat_ngram_size: 3 },
      ...bartFiles(vocab, merges, MAX_LENGTH),
      ...graphs(arch),
    },
  };
}

export function buildMarian(): BuiltModel {
  const codes = MARIAN_LANGUAGES.map((l) => `>>${l}<<`);
  const pieces = unigramPieces();
  // Marian: </s> 0, <unk> 1, then the language codes, the pieces, and <pad> last (it is also the decoder start).
  const vocab: [string, number][] = [['</s>', 0], ['<unk>', 0], ...codes.map((c): [string, number] => [c, 0]), ...pieces, ['<pad>', 0]];
  const padId = vocab.length - 1;
  const specials = [
    { id: 0, content: '</s>' },
    { id: 1, content: '<unk>' },
    { id: padId, content: '<pad>' },
  ];
  const tokens = vocab.map(([p]) => p);
  const suppressed = new Set(['<unk>', '<pad>', ...codes]);
  const arch: Seq2SeqArch = {
    dims: DIMS,
    vocab: vocab.length,
    seed: 23,
    norm: 'layer-post',
    positions: { kind: 'sinusoidal', max: MAX_LENGTH },
    embedScale: Math.sqrt(DIMS.d),
    embedStd: 0.5,
    layernormEmbedding: false,
    activation: 'silu',
    bias: true,
    scaleScores: true,
    lmHead: { kind: 'tied', finalLogitsBias: logitsBias(tokens, ['</s>', EOS_BIAS.marian], (t) => suppressed.has(t), '\u2581') },
    eps: 1e-5,
  };
  const ids = { eos_token_id: 0, pad_token_id: padId, decoder_start_token_id: padId, forced_eos_token_id: 0, bad_words_ids: [[padId]] };
  const config = {
    architectures: ['MarianMTModel'],
    model_type: 'marian',
    activation_function: 'swish',
    d_model: DIMS.d,
    encoder_layers: DIMS.layers,
    decoder_layers: DIMS.layers,
    encoder_attention_heads: DIMS.heads,
    decoder_attention_heads: DIMS.heads,
    encoder_ffn_dim: DIMS.ffn,
    decoder_ffn_dim: DIMS.ffn,
    max_position_embeddings: MAX_LENGTH,
    scale_embedding: true,
    static_position_embeddings: true,
    share_encoder_decoder_embeddings: true,
    is_encoder_decoder: true,
    tie_word_embeddings: true,
    use_cache: true,
    vocab_size: vocab.length,
    decoder_vocab_size: vocab.length,
    ...ids,
  };
  return {
    id: 'tiny/marian',
    card: {
      pipelineTag: 'translation',
      tags: ['marian', ...TAGS, 'translation'],
      summary: summary(
        'Marian-style (opus-mt shape: post-LayerNorm, sinusoidal positions, embeddings scaled by √d_model, SiLU, tied LM head)',
        arch,
        'SentencePiece Unigram (MarianTokenizer)',
        `Like opus-mt-en-ROMANCE it translates into several languages, chosen by a token at the start of the text: ${codes.join(', ')}.`,
      ),
    },
    files: {
      'config.json': config,
      'generation_config.json': { ...ids, max_length: MAX_LENGTH },
      ...unigramFiles({
        vocab,
        specials,
        unkId: 1,
        eosToken: '</s>',
        config: {
          tokenizer_class: 'MarianTokenizer',
          source_lang: 'en',
          target_lang: 'ROMANCE',
          separate_vocabs: false,
          eos_token: '</s>',
          unk_token: '<unk>',
          pad_token: '<pad>',
          model_max_length: MAX_LENGTH,
        },
      }),
      ...graphs(arch),
    },
  };
}
