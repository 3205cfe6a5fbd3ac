import { z } from 'zod';
import { binaryItem, validate, type TaskSpec } from './spec.ts';

// Names and defaults follow silero-vad's get_speech_timestamps.
const params = z.object({
  threshold: z.number().gt(0).lt(1).default(0.5),
  min_speech_duration_ms: z.number().int().min(0).max(60_000).default(250),
  min_silence_duration_ms: z.number().int().min(0).max(60_000).default(100),
  speech_pad_ms: z.number().int().min(0).max(10_000).default(30),
});

export const voiceActivityDetection: TaskSpec = {
  id: 'voice-activity-detection',
  modality: 'audio',
  batchable: false,
  parse(req) {
    return { items: [binaryItem(req.inputs, 'audio')], single: true, params: validate(params, req.parameters, 'parameters') };
  },
  respond: (outputs) => outputs[0],
};
