/**
 * A sequence's text as its tokens arrive: each token's text, and whether a stop sequence has appeared.
 *
 * Byte-level tokens can end inside a UTF-8 character, which decodes as U+FFFD until the token that completes it
 * arrives. Such tokens are held and released (with text "") together with that token, which carries the whole
 * character, so token texts always add up to the generated text.
 *
 * Decoding the whole text at every token costs O(length) per token (0.3 ms at 128 tokens with a byte-level BPE,
 * per sequence and step): instead, as text-generation-inference does, only a window is decoded, from a few tokens
 * before the last released text (`prefix`) to the end, and the new text is what the window decodes to beyond what
 * its first part (`prefix`..`read`) decodes to. The tokens before the window keep word pieces and leading-space
 * rules right at its edge.
 */
import type { GeneratedToken } from '../../core/tasks/text-generation.ts';
import type { Tokenizer } from '../tasks/types.ts';

export interface TokenEvent extends GeneratedToken {
  top?: { id: number; logprob: number }[];
}

export class TokenText {
  readonly ids: number[] = [];
  readonly tokens: TokenEvent[] = [];
  text = '';
  stopped = false;
  private readonly pending: TokenEvent[] = [];
  /** Window start, and the end of the part already released (TGI's prefix_offset / read_offset). */
  private prefix = 0;
  private read = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly special: ReadonlySet<number>,
    private readonly stops: readonly string[],
  ) {}

  /** Adds a token; returns the tokens whose text is now known (none while a character is incomplete). */
  push(id: number, logprob: number, top?: TokenEvent['top']): TokenEvent[] {
    this.ids.push(id);
    this.pending.push({ id, text: '', logprob, special: this.special.has(id), ...(top ? { top } : {}) });
    const known = this.decode(this.prefix, this.read);
    const window = this.decode(this.prefix, this.ids.length);
    const fresh = window.length > known.length ? window.slice(known.length) : '';
    // As transformers.js's stopping criterion, on the decoded new text, incomplete characters included.
    if (this.stops.length > 0) {
      const decoded = this.text + fresh;
      this.stopped = this.stops.some((s) => decoded.includes(s));
    }
    if (fresh.endsWith('\uFFFD') && !this.stopped) return [];
    this.prefix = this.read;
    this.read = this.ids.length;
    return this.release(this.text + fresh);
  }

  private decode(from: number, to: number): string {
    return from >= to ? '' : this.tokenizer.decode(this.ids.slice(from, to), { skip_special_tokens: true });
  }

  /** At the end of generation: tokens still held carry what the text ends with. */
  finish(): TokenEvent[] {
    if (this.pending.length === 0) return [];
    const known = this.decode(this.prefix, this.read);
    const window = this.decode(this.prefix, this.ids.length);
    return this.release(this.text + (window.length > known.length ? window.slice(known.length) : ''));
  }

  private release(decoded: string): TokenEvent[] {
    const out = this.pending.splice(0);
    const last = out[out.length - 1];
    if (last) last.text = decoded.slice(this.text.length);
    this.text = decoded;
    this.tokens.push(...out);
    return out;
  }
}
