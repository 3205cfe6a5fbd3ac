/**
 * Generated ids to text, as they come: the whole tail is decoded at each step (word pieces and multi-token
 * characters decode right only together), a tail ending inside a UTF-8 character waits for the token that
 * completes it, text is cut before the first stop sequence, and text that may be the start of a stop sequence is
 * held until the next tokens tell. The deltas handed out add up to the final text.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private sent = 0;
  /** The text so far, cut before a stop sequence once one appeared. */
  text = '';
  stopped = false;

  constructor(
    private readonly decode: (ids: number[]) => string,
    private readonly stops: string[],
  ) {}

  /** Adds one token; returns the text that became safe to send. */
  push(id: number): string {
    this.ids.push(id);
    return this.advance(false);
  }

  /** Generation ended: returns what was still held. */
  finish(): string {
    return this.advance(true);
  }

  private advance(final: boolean): string {
    if (this.stopped) return '';
    const decoded = this.decode(this.ids);
    if (!final && decoded.endsWith('\uFFFD')) return '';
    const at = Math.min(...this.stops.map((s) => decoded.indexOf(s)).filter((i) => i >= 0));
    this.stopped = Number.isFinite(at);
    this.text = this.stopped ? decoded.slice(0, at) : decoded;
    const safe = this.stopped || final ? this.text.length : this.text.length - heldBack(this.text, this.stops);
    if (safe <= this.sent) return '';
    const delta = this.text.slice(this.sent, safe);
    this.sent = safe;
    return delta;
  }
}

/** Length of the longest end of `text` that begins a stop sequence. */
function heldBack(text: string, stops: string[]): number {
  let held = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > held; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        held = n;
        break;
      }
    }
  }
  return held;
}
