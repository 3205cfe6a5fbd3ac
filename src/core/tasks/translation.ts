import { seq2seqTask } from './text2text-generation.ts';

/** Translation: a seq2seq model's text as `[{translation_text}]`; `src_lang`/`tgt_lang` choose the direction. */
export const translation = seq2seqTask('translation', 'translation_text');
