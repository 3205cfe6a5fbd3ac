import { describe, expect, it } from 'vitest';
import { taskFromConfig } from '../../src/hub/task-from-config.ts';

describe('taskFromConfig', () => {
  it('reads the task from the first architecture, encoder-decoders included', () => {
    const cases: [string, string | undefined][] = [
      ['BertForSequenceClassification', 'text-classification'],
      ['LlamaForCausalLM', 'text-generation'],
      ['GPT2LMHeadModel', 'text-generation'],
      ['T5ForConditionalGeneration', 'text2text-generation'],
      ['BartForConditionalGeneration', 'text2text-generation'],
      ['MarianMTModel', 'translation'],
      ['WhisperForConditionalGeneration', 'automatic-speech-recognition'],
      ['VisionEncoderDecoderModel', 'image-to-text'],
      // Speech encoders' sequence classifiers classify audio, not text.
      ['Wav2Vec2ForSequenceClassification', 'audio-classification'],
      ['HubertForSequenceClassification', 'audio-classification'],
      ['ASTForAudioClassification', 'audio-classification'],
      ['DistilBertForSequenceClassification', 'text-classification'],
      ['MPNetModel', 'feature-extraction'],
      ['SomethingElse', undefined],
    ];
    for (const [arch, task] of cases) expect([arch, taskFromConfig({ architectures: [arch] })]).toEqual([arch, task]);
    expect(taskFromConfig({})).toBeUndefined();
    expect(taskFromConfig(undefined)).toBeUndefined();
  });
});
