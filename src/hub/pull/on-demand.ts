/**
 * Pull on first call (`serve --pull`): a call for a Hub model that is not here starts its download and is
 * answered as the Hub's serverless API answers a cold model: 503 with `estimated_time` (the bytes left over the
 * measured speed, plus the load time), or held until the model is here when the caller waits for models. Calls
 * for one model share one download. What can never be pulled is answered at once: 404 for a repo the Hub does
 * not have (or `--pull-allow` excludes), 400 for a repo without weights or a task modelhost runs.
 *
 * The server sees the model once the pull completes: the repository is rescanned, and the call goes on as any
 * call for a cold local model.
 */
import { ModelhostError, ModelLoadingError } from '../../core/errors.ts';
import { isTaskId } from '../../core/tasks/index.ts';
import { PullError } from './errors.ts';
import { Meter } from './meter.ts';
import { pull, type PullPlan } from './pull.ts';
import { globToRegExp } from './select.ts';

export interface OnDemandOptions {
  endpoint: string;
  token?: string;
  cacheDir: string;
  /** Repo-id globs that may be pulled (empty: any). */
  allow: string[];
  /** Whether the model is here (runnable); after a pull the repository is rescanned with `rescan`. */
  has(id: string): boolean;
  rescan(): void;
  /** Seconds the engine needs to load this many bytes of model (its own measured rate). */
  loadSeconds(bytes: number): number;
  log?(level: 'info' | 'warn', message: string): void;
}

interface Job {
  plan: Promise<PullPlan>;
  done: Promise<void>;
  meter: Meter;
  /** Bytes of the selected files on disk. */
  onDisk: Map<string, number>;
}

/** A first estimate waits for this much of the transfer to be measured... */
const MEASURE_MS = 500;
/** ...but answers no later than this after the call came. */
const FIRST_ESTIMATE_MS = 1500;

export class OnDemandPuller {
  private readonly jobs = new Map<string, Job>();
  private readonly allow: RegExp[];

  constructor(private readonly opts: OnDemandOptions) {
    this.allow = opts.allow.map(globToRegExp);
  }

  /** Whether this server may pull `id` (and so should try instead of answering 404). */
  allows(id: string): boolean {
    return this.allow.length === 0 || this.allow.some((re) => re.test(id));
  }

  /**
   * Resolves when `id` is here (the caller then loads it as any model); otherwise throws the answer:
   * 503 ModelLoadingError while it downloads, 404/400 for what can never be pulled, 502 when the Hub fails.
   */
  async ensure(id: string, waitMs: number): Promise<void> {
    if (this.opts.has(id)) return;
    if (!this.allows(id)) {
      throw new ModelhostError('model_not_found', 404, `Model ${id} is not here, and this server may only pull models matching ${this.opts.allow.join(', ')} (--pull-allow).`);
    }
    const job = this.jobs.get(id) ?? this.start(id);
    const plan = await job.plan.catch((e: unknown) => {
      throw this.answer(id, e);
    });
    const started = performance.now();
    const outcome = await Promise.race([job.done.then(() => 'done' as const), delay(Math.max(waitMs, 0)).then(() => 'waiting' as const)]).catch((e: unknown) => {
      throw this.answer(id, e);
    });
    if (outcome === 'done') return;
    // An estimate needs a speed: measure a moment first (the answer is a 503 either way, unless it finishes).
    while (job.meter.span() < MEASURE_MS && performance.now() - started < FIRST_ESTIMATE_MS) {
      const finished = await Promise.race([job.done.then(() => true), delay(50).then(() => false)]).catch((e: unknown) => {
        throw this.answer(id, e);
      });
      if (finished) return;
    }
    throw new ModelLoadingError(id, this.estimate(job, plan));
  }

  /** Seconds until the model can answer: bytes left over the measured speed, plus its load time. */
  private estimate(job: Job, plan: PullPlan): number {
    const onDisk = [...job.onDisk.values()].reduce((a, b) => a + b, 0);
    const left = Math.max(plan.totalBytes - Math.max(onDisk, plan.presentBytes), 0);
    const rate = job.meter.rate();
    const download = left === 0 ? 0 : rate ? left / rate : left / (10 * 1024 ** 2);
    return download + this.opts.loadSeconds(plan.totalBytes);
  }

  private start(id: string): Job {
    let planned!: (p: PullPlan) => void;
    const plan = new Promise<PullPlan>((resolve) => (planned = resolve));
    const meter = new Meter(2000);
    const onDisk = new Map<string, number>();
    this.opts.log?.('info', `pulling ${id} from ${this.opts.endpoint} (first call)`);
    const run = pull({
      repo: id,
      revision: 'main',
      endpoint: this.opts.endpoint,
      token: this.opts.token,
      cacheDir: this.opts.cacheDir,
      events: {
        onPlan: (p) => {
          // A task modelhost does not serve is known from the card before any byte moves.
          if (p.pipelineTag && !isTaskId(p.pipelineTag)) throw new PullError('no_runnable_files', `${id} is a ${p.pipelineTag} model, a task modelhost does not serve`);
          planned(p);
        },
        onBytes: (file, bytes, fresh) => {
          onDisk.set(file.path, bytes);
          if (fresh) meter.add(fresh);
        },
      },
    });
    const done = run.then(
      (r) => {
        this.opts.rescan();
        this.jobs.delete(id);
        this.opts.log?.('info', `pulled ${id}@${r.plan.sha.slice(0, 12)} (${r.fetchedBytes} bytes)`);
        if (!this.opts.has(id)) throw new PullError('no_runnable_files', `${id} was pulled but modelhost cannot run it (modelhost models list says why)`);
      },
      (e: unknown) => {
        // Forgotten, so a later call tries again (a Hub that was down may be back).
        this.jobs.delete(id);
        this.opts.log?.('warn', `pulling ${id} failed: ${(e as Error).message}`);
        throw e;
      },
    );
    const job: Job = { plan: Promise.race([plan, done.then(() => plan)]), done, meter, onDisk };
    job.plan.catch(() => undefined);
    done.catch(() => undefined);
    this.jobs.set(id, job);
    return job;
  }

  /** A failed pull as the HTTP answer. */
  private answer(id: string, e: unknown): ModelhostError {
    if (e instanceof ModelhostError) return e;
    if (!(e instanceof PullError)) return new ModelhostError('upstream_failed', 502, `Pulling ${id} failed`);
    switch (e.kind) {
      case 'repo_not_found':
      case 'revision_not_found':
        return new ModelhostError('model_not_found', 404, `Model ${id} is not here, and ${this.opts.endpoint} has no such repository.`);
      case 'no_runnable_files':
      case 'entry_not_found':
        return new ModelhostError('bad_input', 400, `Model ${id} cannot run here: ${e.message}`);
      case 'gated':
      case 'unauthorized':
        return new ModelhostError('forbidden', 403, `Model ${id} cannot be pulled: ${e.message.replace(/set HF_TOKEN.*$/, 'the server needs a token for it (HF_TOKEN)')}`);
      default:
        return new ModelhostError('upstream_failed', 502, `Pulling ${id} from ${this.opts.endpoint} failed: ${e.message}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
