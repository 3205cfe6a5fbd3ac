/**
 * Chat choices on the scheduler (src/engine/generation/chat.ts) give what chat's transformers.js-based `generate`
 * gives (src/engine/chat/generate.ts): the same ids, text, finish reason, streamed steps and logprobs, here for
 * 12 choices generated concurrently in shared decoder steps.
 */
import { describe, expect, it } from 'vitest';
import { eosIdsOf, generate, type GeneratedStep, type GenerationRequest } from '../../src/engine/chat/generate.ts';
import type { SamplingSettings } from '../../src/engine/chat/sampling.ts';
import { generateOnScheduler } from '../../src/engine/generation/chat.ts';
import { createScheduler } from '../../src/engine/generation/index.ts';
import type { Pipe } from '../../src/engine/tasks/types.ts';
import { reference } from '../helpers/reference.ts';

const MODEL = 'tiny/gpt2-chat';

const settings = (s: Partial<SamplingSettings>): SamplingSettings => ({
  temperature: 0,
  top_p: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: new Map(),
  ...s,
});

describe('chat on the scheduler', () => {
  it('gives each choice the steps chat generate gives, while batched', async () => {
    const pipe = (await reference('text-generation', MODEL)) as unknown as Pipe;
    const eosIds = eosIdsOf(pipe.model);
    const decode = (ids: number[]) => pipe.tokenizer.decode(ids, { skip_special_tokens: true });
    const prompts = ['Hello there', 'Tell me a story about a fox', 'What is 2 + 2?'];
    const variants: Partial<GenerationRequest>[] = [
      { settings: settings({}), logprobs: 2 },
      { settings: settings({ temperature: 0.9, top_p: 0.8 }), seed: 11 },
      { settings: settings({ temperature: 1.3, presence_penalty: 0.6, frequency_penalty: 0.4 }), seed: 5, logprobs: 0 },
      { settings: settings({ temperature: 0.7, logit_bias: new Map([[300, 5]]) }), seed: 3, stops: [' a', 'e'] },
    ];
    const requests: GenerationRequest[] = prompts.flatMap((p) =>
      variants.map((v) => ({ encoded: pipe.tokenizer(p), maxNewTokens: 24, seed: 0, stops: [], eosIds, decode, logprobs: false as const, settings: settings({}), ...v })),
    );
    const scheduler = createScheduler(pipe, { options: { maxBatchSize: 64 } })!;
    const batched = requests.map(() => [] as GeneratedStep[]);
    const outs = await Promise.all(requests.map((req, i) => generateOnScheduler(scheduler, req, (s) => batched[i]!.push(s))));
    for (const [i, req] of requests.entries()) {
      const steps: GeneratedStep[] = [];
      const expected = await generate(pipe.model, req, (s) => steps.push(s));
      expect(outs[i], `request ${i}`).toEqual(expected);
      expect(batched[i]!.map((s) => [s.id, s.text])).toEqual(steps.map((s) => [s.id, s.text]));
      batched[i]!.forEach((s, k) => {
        if (!s.logprobs) return expect(steps[k]!.logprobs).toBeUndefined();
        const ref = steps[k]!.logprobs!;
        expect(Math.abs(s.logprobs[s.id!]! - ref[s.id!]!)).toBeLessThan(1e-4);
      });
    }
    expect(outs.some((o) => o.finishReason === 'stop')).toBe(true);
  });
});
