/** Small pieces every console panel uses: an error line, a key figure, a time-axis label. */
export function Problem({ error }: { error?: Error }) {
  if (!error) return null;
  return (
    <p role="alert" class="error">
      {error.message}
    </p>
  );
}

export function Kpi({ k, v }: { k: string; v: string }) {
  return (
    <li>
      <span class="k">{k}</span>
      <span class="v">{v}</span>
    </li>
  );
}

/** The UTC hh:mm of an ISO time: a minute's label on a time axis. */
export function hhmm(iso: string) {
  return new Date(iso).toISOString().slice(11, 16);
}
