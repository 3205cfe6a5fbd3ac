/** The output panel of a model's page: progress, the error or note, the task's output view, its JSON, a share link. */
import type { SpaceTask } from '../../server/catalog.ts';
import { copy } from '../lib.ts';
import type { RunResult } from './call.ts';
import type { Picked } from './inputs.ts';
import { LoadingBar } from './loading-bar.tsx';
import { TaskOutput } from './task-output.tsx';

export interface OutputProps {
  task: SpaceTask;
  embed: boolean;
  busy: boolean;
  /** Seconds the model is expected to load for, while a held request waits. */
  loadingFor: number | undefined;
  error: string;
  note: string;
  setNote: (note: string) => void;
  /** The text streamed so far by a text-generation run. */
  generated: { prompt: string; text: string } | undefined;
  result: RunResult | undefined;
  file: Picked | undefined;
  /** Kept by the page, so that it survives a visit to the API view. */
  showJson: boolean;
  setShowJson: (show: boolean) => void;
}

export function OutputPanel({ task, embed, busy, loadingFor, error, note, setNote, generated, result, file, showJson, setShowJson }: OutputProps) {
  return (
    <section class="outputs" aria-labelledby="out-h">
      <h2 id="out-h">Output</h2>
      <div aria-live="polite" data-testid="output">
        {busy && loadingFor === undefined && <p class="muted">Running…</p>}
        {loadingFor !== undefined && <LoadingBar seconds={loadingFor} />}
        {error && (
          <p role="alert" class="error" data-testid="error">
            {error}
          </p>
        )}
        {note && <p class="muted">{note}</p>}
        {task === 'text-generation' && generated && (
          <p class="generation" data-testid="generation">
            {generated.prompt}
            <span class="gen">{generated.text}</span>
          </p>
        )}
        {result && result.task === task && <TaskOutput result={result} file={file} />}
      </div>
      {result && (
        <p class="muted" data-testid="compute-time">
          {result.cached ? 'Computation time: cached' : result.computeTime ? `Computation time on cpu: ${Number(result.computeTime).toFixed(3)} s` : ''}
        </p>
      )}
      {result && (
        <div>
          <label class="inline">
            <input type="checkbox" checked={showJson} onChange={(e) => setShowJson((e.target as HTMLInputElement).checked)} /> JSON output
          </label>
          {showJson && <pre class="json" data-testid="json" tabIndex={0} aria-label="JSON output">{JSON.stringify(result.json, null, 2)}</pre>}
        </div>
      )}
      {!embed && (
        <p>
          <button type="button" onClick={async () => setNote((await copy(location.href)) ? 'Link copied: it carries the inputs.' : location.href)}>
            Copy link to these inputs
          </button>
        </p>
      )}
    </section>
  );
}
