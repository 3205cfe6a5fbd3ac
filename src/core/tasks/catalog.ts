/**
 * The catalogue of locally served tasks: what each takes and answers, in words, and the @huggingface/inference method
 * that calls it. `GET /api/tasks` serves it and `tools/readme-tasks.ts` writes README.md's task table from it, so
 * the two cannot drift; tests/readme-tasks.test.ts fails when a task id has no entry or the README differs.
 * Tasks that answer alike share an entry (one README row).
 */
import type { TaskId } from './types.ts';

export interface TaskCatalogEntry {
  tasks: readonly TaskId[];
  /** What `inputs` may be (Markdown). */
  inputs: string;
  /** The parameters taken, with defaults (Markdown; empty when none). */
  parameters: string;
  /** The answer's shape (Markdown). */
  answer: string;
}

export const TASK_CATALOG: readonly TaskCatalogEntry[] = [
  {
    tasks: ['text-classification'],
    inputs: 'string or list',
    parameters: '`top_k` (default all labels), `function_to_apply` (`softmax`/`sigmoid`/`none`)',
    answer: '`[[{label, score}, …]]`, one list per input',
  },
  {
    tasks: ['token-classification'],
    inputs: 'string or list',
    parameters: '`aggregation_strategy` (`simple` default, `none`, `first`, `average`, `max`), `ignore_labels` (default `["O"]`), `stride` (read a text longer than the model in windows of its length overlapping by `stride` tokens, overlapping entities merged as the Python pipeline does; needs an aggregation other than `none`; without it a long text is cut at the model\'s length)',
    answer: '`[{entity_group, score, word, start, end}]` (`start`/`end` are character offsets)',
  },
  {
    tasks: ['zero-shot-classification'],
    inputs: 'string or list',
    parameters: '`candidate_labels` (required; list or comma-separated), `hypothesis_template`, `multi_label`',
    answer: '`{sequence, labels, scores}`',
  },
  {
    tasks: ['fill-mask'],
    inputs: 'string with `[MASK]`, or list',
    parameters: '`top_k` (5), `targets`',
    answer: '`[{sequence, score, token, token_str}]`; a text with several masks gets one such list per mask, each `sequence` filling that mask with the special tokens kept (as the Python pipeline; transformers.js fills only the first). A mask past the model\'s length is a 400',
  },
  {
    tasks: ['question-answering'],
    inputs: '`{question, context}` or list',
    parameters: '`top_k` (1), `max_answer_len` (15), `handle_impossible_answer`, and for long contexts `max_seq_len` (384), `doc_stride` (128), `max_question_len` (64): the context is read in windows as the Python pipeline cuts them, answers of all windows ranked together (a span two windows found once)',
    answer: '`{answer, score, start, end}` (a list when `top_k` > 1)',
  },
  {
    tasks: ['feature-extraction'],
    inputs: 'string or list; `normalize`, `truncate`, `truncation_direction` (`right`, or `left`: a long text keeps its end, special tokens kept), `prompt_name`, `pooling` at the root or in `parameters`',
    parameters: '',
    answer: 'sentence-transformers models: one vector per input (`number[]`, or `number[][]` for a list); other encoders: per-token vectors',
  },
  {
    tasks: ['sentence-similarity'],
    inputs: '`{source_sentence, sentences}` (also on an embedding model\'s own URL)',
    parameters: '',
    answer: '`number[]` (cosine similarities)',
  },
  {
    tasks: ['text-generation'],
    inputs: 'string; `"stream": true` for server-sent events',
    parameters: 'TGI\'s: `max_new_tokens` (20), `do_sample`, `temperature`, `top_k`, `top_p`, `repetition_penalty`, `seed`, `stop`, `return_full_text` (default true, as the legacy API), `details`',
    answer: '`[{generated_text, details?}]`; streaming: one `data:` event per token, the last carries `generated_text` (TGI format, no `[DONE]`)',
  },
  {
    tasks: ['text2text-generation', 'summarization', 'translation'],
    inputs: 'string or list (encoder-decoder models: T5, BART, Marian; each answers all three)',
    parameters: '`max_new_tokens` (256, the pipeline\'s), `max_length`, `min_new_tokens`/`min_length`, `do_sample` with `temperature`, `top_k`, `seed`, `repetition_penalty`, `no_repeat_ngram_size`, `clean_up_tokenization_spaces`, `truncation` (`longest_first` default; `do_not_truncate` refuses a text longer than the model), at the top of `parameters` or in `generate_parameters` (which wins); translation also `src_lang`/`tgt_lang` (a Marian model\'s `>>xx<<` code, or a T5 `translate X to Y: ` prefix; required for multi-target Marian models; ignored by one-direction models). `num_beams` > 1, `top_p` < 1 and `num_return_sequences` > 1 are refused (transformers.js has no beam search or nucleus sampling here)',
    answer: '`[{generated_text}]` / `[{summary_text}]` / `[{translation_text}]`, one object per input; the model\'s prefixes (`summarize: `) apply as in transformers.js\'s pipeline; a batch gives each text its answer alone',
  },
  {
    tasks: ['image-classification'],
    inputs: 'raw image (PNG, JPEG, WebP, GIF, TIFF, BMP) or base64',
    parameters: '`top_k` (5), `function_to_apply`',
    answer: '`[{label, score}]`',
  },
  {
    tasks: ['voice-activity-detection'],
    inputs: 'raw WAV / FLAC / MP3 / Ogg (Vorbis, Opus) / WebM-Opus, raw 16-bit PCM with `Content-Type: audio/L16;rate=16000`, or base64',
    parameters: '`threshold` (0.5), `min_speech_duration_ms` (250), `min_silence_duration_ms` (100), `speech_pad_ms` (30)',
    answer: '`[{start, end, score}]` in seconds',
  },
  {
    // Written from src/core/tasks/automatic-speech-recognition.ts; its author may word it better.
    tasks: ['automatic-speech-recognition'],
    inputs: 'audio (raw file or base64; Whisper models)',
    parameters: '`return_timestamps` (`true` for segments, `"word"` for words), `chunk_length_s` (≤ 30) and `stride_length_s` for long audio, `generate_kwargs` (or `generation_parameters`): `language`, `task` (`transcribe`/`translate`), `max_new_tokens`',
    answer: '`{text}`, with `chunks: [{text, timestamp: [start, end]}]` when timestamps are asked for',
  },
  {
    tasks: ['audio-classification'],
    inputs: 'audio (raw file or base64, any format the audio tasks take; wav2vec2 / HuBERT / WavLM models, at most 60 s, and AST models, which read the first `max_length` frames)',
    parameters: '`top_k` (5), `function_to_apply` (`softmax` default, `sigmoid`, `none`)',
    answer: '`[{label, score}]`, best first',
  },
  {
    tasks: ['text-to-speech'],
    inputs: 'one string of at most 4096 characters (VITS-style models)',
    parameters: '`speed` (1; 0.25–4: the audio is resampled, so pitch follows speed), `generation_parameters` (accepted, unused: the model samples nothing)',
    answer: 'the audio file itself, in the format the `Accept` header asks for: `audio/wav` (default; 32-bit float), `audio/flac` (16-bit) or `audio/mpeg` (MP3); any other Accept is a 406 naming these',
  },
  {
    tasks: ['zero-shot-image-classification'],
    inputs: 'image (raw file, base64 in `inputs`, or `{image: base64}` as the JS client sends)',
    parameters: '`candidate_labels` (required; list or comma-separated), `hypothesis_template` (`This is a photo of {}`)',
    answer: '`[{label, score}]` for every label, best first (CLIP: softmax over the labels; SigLIP: sigmoid per label)',
  },
  {
    tasks: ['object-detection'],
    inputs: 'image (raw file or base64)',
    parameters: '`threshold` (0.9, the transformers.js pipeline\'s)',
    answer: '`[{label, score, box: {xmin, ymin, xmax, ymax}}]`, boxes in whole pixels of the image sent (DETR / YOLOS models)',
  },
  {
    tasks: ['depth-estimation'],
    inputs: 'image (raw file or base64)',
    parameters: '',
    answer: '`{predicted_depth, depth}`: the depth at the image\'s size as rows of numbers, and the same map scaled to 0..255 as a greyscale PNG in base64',
  },
  {
    tasks: ['image-feature-extraction'],
    inputs: 'image (raw file or base64)',
    parameters: '`pool` (false): the pooled output instead of every token\'s state',
    answer: '`number[1][tokens][hidden]` (with `pool`: `number[1][hidden]`), as the transformers.js pipeline',
  },
  {
    tasks: ['image-segmentation'],
    inputs: 'image (raw file or base64)',
    parameters: '`subtask` (`semantic`; `instance` / `panoptic` are refused for the semantic models served), `threshold` (0.5), `mask_threshold` (0.5), `overlap_mask_area_threshold` (0.8): accepted, read by instance / panoptic post-processing only',
    answer: '`[{label, mask}]`: one segment per label that wins a pixel, its mask a black-and-white PNG (base64) at the image\'s size; no `score` for semantic models (SegFormer), where the JS client refuses `null`',
  },
  {
    tasks: ['image-to-text'],
    inputs: 'image (raw file or base64; VisionEncoderDecoder models such as ViT + GPT-2)',
    parameters: '`max_new_tokens` (default: the model\'s generation config), `generation_parameters` (`max_new_tokens`, `max_length`; wins over the top level). Greedy decoding: `do_sample: true` and `num_beams` > 1 are refused',
    answer: '`{generated_text}` (the spec\'s object, which @huggingface/inference ≥ 4.13.15 requires; the transformers.js pipeline gives a one-element list)',
  },
];

/** The @huggingface/inference method that calls each task, where the client has one. */
export const CLIENT_METHODS: Partial<Record<TaskId, string>> = {
  'text-classification': 'textClassification',
  'token-classification': 'tokenClassification',
  'zero-shot-classification': 'zeroShotClassification',
  'fill-mask': 'fillMask',
  'question-answering': 'questionAnswering',
  'feature-extraction': 'featureExtraction',
  'sentence-similarity': 'sentenceSimilarity',
  'text-generation': 'textGeneration',
  'text2text-generation': 'textGeneration',
  summarization: 'summarization',
  translation: 'translation',
  'image-classification': 'imageClassification',
  'automatic-speech-recognition': 'automaticSpeechRecognition',
  'audio-classification': 'audioClassification',
  'text-to-speech': 'textToSpeech',
  'zero-shot-image-classification': 'zeroShotImageClassification',
  'object-detection': 'objectDetection',
  'image-feature-extraction': 'featureExtraction',
  'image-segmentation': 'imageSegmentation',
  'image-to-text': 'imageToText',
};

/** The catalogue entry of a task, if it has one. */
export function catalogEntry(task: TaskId): TaskCatalogEntry | undefined {
  return TASK_CATALOG.find((e) => e.tasks.includes(task));
}
