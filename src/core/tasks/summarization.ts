import { seq2seqTask } from './text2text-generation.ts';

/** Summarization: a seq2seq model's text as `[{summary_text}]` (with the model's "summarize: " prefix, if any). */
export const summarization = seq2seqTask('summarization', 'summary_text');
