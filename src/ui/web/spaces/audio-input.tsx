/** The audio input: choose a file or record from the microphone. */
import type { Picked } from './inputs.ts';
import { useRecorder } from './recorder.ts';

export function AudioInput({ file, onFile }: { file?: Picked; onFile: (f: Picked) => void }) {
  const rec = useRecorder(({ blob, name }) => onFile({ blob, name, url: URL.createObjectURL(blob) }));
  return (
    <fieldset class="file">
      <legend>Audio</legend>
      <label class="button">
        Choose audio file
        <input
          class="visually-hidden-file"
          type="file"
          accept="audio/*"
          onChange={(e) => {
            const f = (e.target as HTMLInputElement).files?.[0];
            if (f) onFile({ blob: f, name: f.name, url: URL.createObjectURL(f) });
          }}
        />
      </label>{' '}
      <button type="button" class={rec.recording ? 'recording' : ''} aria-pressed={rec.recording} onClick={() => (rec.recording ? rec.stop() : void rec.start())}>
        {rec.recording ? 'Stop recording' : 'Record from microphone'}
      </button>
      {rec.error && (
        <p role="alert" class="error">
          {rec.error}
        </p>
      )}
      {file && (
        <p>
          <audio controls src={file.url} aria-label={`Selected audio: ${file.name}`} />
          <span class="muted"> {file.name}</span>
        </p>
      )}
    </fieldset>
  );
}
