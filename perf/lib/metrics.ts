/** Reads the server's GET /metrics (Prometheus text format) into name → value (unlabelled series only). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const values = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}

export function metric(values: Map<string, number>, name: string): number {
  const v = values.get(name);
  if (v === undefined) throw new Error(`/metrics has no ${name}`);
  return v;
}
