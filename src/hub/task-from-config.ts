/**
 * The task of a model whose card gives no `pipeline_tag`, read from `config.json` `architectures` the way the
 * Hub's transformers integration does. Models that transformers.js or a script downloaded often lack the card
 * (transformers.js fetches config, tokenizer and weights only), and they should run without a pull.
 */
const BY_SUFFIX: [RegExp, string][] = [
  // Speech encoders classify audio, not text: before the generic *ForSequenceClassification rule.
  [/^(Wav2Vec2|Wav2Vec2Bert|Hubert|WavLM|UniSpeech|UniSpeechSat|Data2VecAudio)ForSequenceClassification$/, 'audio-classification'],
  [/ForAudioClassification$/, 'audio-classification'],
  [/ForSequenceClassification$/, 'text-classification'],
  [/ForTokenClassification$/, 'token-classification'],
  [/ForQuestionAnswering$/, 'question-answering'],
  [/ForMaskedLM$/, 'fill-mask'],
  [/(ForCausalLM|LMHeadModel)$/, 'text-generation'],
  [/ForImageClassification$/, 'image-classification'],
  // Encoder-decoders: Whisper hears, VisionEncoderDecoder captions, Marian translates; the others (T5, BART,
  // mT5...) are text2text. Before the bare-encoder rule, which `VisionEncoderDecoderModel` would also match.
  [/^WhisperForConditionalGeneration$/, 'automatic-speech-recognition'],
  [/^VisionEncoderDecoderModel$/, 'image-to-text'],
  [/^MarianMTModel$/, 'translation'],
  [/ForConditionalGeneration$/, 'text2text-generation'],
  // A bare encoder (`BertModel`, `MPNetModel`): sentence embeddings.
  [/^[A-Za-z0-9]+Model$/, 'feature-extraction'],
];

/** The pipeline tag the first architecture implies, or undefined. */
export function taskFromConfig(config: Record<string, unknown> | undefined): string | undefined {
  const first = Array.isArray(config?.architectures) ? config.architectures[0] : undefined;
  if (typeof first !== 'string') return undefined;
  return BY_SUFFIX.find(([re]) => re.test(first))?.[1];
}
