/** The cold-start bar: shown while a held request waits for its model to load. */
import { useEffect, useState } from 'preact/hooks';

export function LoadingBar({ seconds }: { seconds: number }) {
  const [pct, setPct] = useState(0);
  useEffect(() => {
    const started = Date.now();
    const t = setInterval(() => setPct(Math.min(96, ((Date.now() - started) / 1000 / Math.max(seconds, 0.5)) * 100)), 500);
    return () => clearInterval(t);
  }, [seconds]);
  return (
    <div class="loading" data-testid="loading">
      <p>Model is loading (about {seconds.toFixed(1)} s); your request is held and runs as soon as it is ready.</p>
      <div class="progress" role="progressbar" aria-label="Model loading" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
