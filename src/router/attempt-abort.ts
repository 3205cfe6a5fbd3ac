import { CallAbort, type CallSignal } from '../core/providers.ts';

/** An attempt's cancellation: by the caller leaving, a hedged twin winning, or a deadline. */
export class AttemptAbort extends CallAbort {
  private readonly fromCaller: () => void;
  private readonly fromTwin: (() => void) | undefined;

  constructor(
    private readonly caller: CallSignal,
    private readonly twin: CallSignal | undefined,
  ) {
    super();
    this.fromCaller = this.abort.bind(this, undefined);
    caller.addEventListener('abort', this.fromCaller, { once: true });
    this.fromTwin = twin ? this.abort.bind(this, undefined) : undefined;
    if (twin && this.fromTwin) twin.addEventListener('abort', this.fromTwin, { once: true });
  }

  override abort(reason: unknown): void {
    // Without a reason of its own, an attempt takes the caller's (or the winning twin's).
    super.abort(reason ?? (this.caller.aborted ? this.caller.reason : this.twin?.reason));
  }

  cleanup(total: NodeJS.Timeout): void {
    clearTimeout(total);
    this.caller.removeEventListener('abort', this.fromCaller);
    if (this.twin && this.fromTwin) this.twin.removeEventListener('abort', this.fromTwin);
  }
}
