/* global fetch */
// Closed-loop load from its own process (as real clients would be): `concurrency` loops POST `body` to `url`
// until the parent sends "stop", then report how many answers were 200 and the other statuses.
const [url, concurrency, body] = process.argv.slice(2);
let stop = false;
const counts = { ok: 0, failed: 0, statuses: [] };
process.on('message', (m) => {
  if (m === 'stop') stop = true;
});
const loops = Array.from({ length: Number(concurrency) }, async () => {
  while (!stop) {
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-scale-up-timeout': '60' }, body });
      await r.arrayBuffer();
      if (r.status === 200) counts.ok++;
      else {
        counts.failed++;
        counts.statuses.push(r.status);
      }
    } catch (e) {
      counts.failed++;
      counts.statuses.push(String(e));
    }
  }
});
process.send('started');
await Promise.all(loops);
process.send(counts, () => process.exit(0));
