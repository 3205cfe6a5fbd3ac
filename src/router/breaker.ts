/**
 * One circuit breaker per provider. Closed: calls pass and consecutive failures are counted. Open (after
 * `failures` in a row): calls are refused for `cooldownMs`. Then half-open: exactly one probe is let
 * through; its success closes the circuit, its failure opens it for another cool-down. Written by hand
 * because the libraries at hand count failure percentages over windows (opossum) or need Node 22
 * (cockatiel 4), and "one probe per cool-down" must hold exactly.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** What the router asks of a breaker; a cluster worker's breaker answers from the primary's (src/cluster). */
export interface Breaker {
  readonly state: CircuitState;
  readonly opens: number;
  readonly probes: number;
  /** May be a promise when the answer lives elsewhere (an open circuit shared by several processes). */
  tryAcquire(): boolean | Promise<boolean>;
  success(): void;
  failure(): void;
  release(): void;
}

/** A breaker's whole state, for mirroring it in other processes. */
export interface BreakerSnapshot {
  opened: boolean;
  openedAt: number;
  /** Failures counted since the last success, or an open circuit: a success must be reported. */
  dirty: boolean;
  opens: number;
  probes: number;
}

export class CircuitBreaker implements Breaker {
  private consecutive = 0;
  private openedAt = 0;
  private probing = false;
  private opened = false;
  /** Times the circuit opened, and probes let through (for statistics and tests). */
  opens = 0;
  probes = 0;

  constructor(
    readonly failures: number,
    readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (!this.opened) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go out now; in half-open state only the first caller gets true. */
  tryAcquire(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    this.probes++;
    return true;
  }

  success(): void {
    this.consecutive = 0;
    this.opened = false;
    this.probing = false;
  }

  failure(): void {
    this.consecutive++;
    if (this.probing || (!this.opened && this.consecutive >= this.failures)) {
      if (!this.opened || this.probing) this.opens++;
      this.opened = true;
      this.openedAt = this.now();
      this.probing = false;
    }
  }

  /** A probe that ended without a verdict (the caller went away) frees the slot for the next one. */
  release(): void {
    this.probing = false;
  }

  snapshot(): BreakerSnapshot {
    return { opened: this.opened, openedAt: this.openedAt, dirty: this.opened || this.consecutive > 0, opens: this.opens, probes: this.probes };
  }
}
