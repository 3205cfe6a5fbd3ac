/* global fetch */
// Sequential requests from their own process (a caller elsewhere, not sharing the server's event loop): for each
// "measure <n>" message, POST `body` to `url` n times one after another and send back the latencies in ms.
const [url, body] = process.argv.slice(2);
process.on('message', async (m) => {
  if (m === 'exit') process.exit(0);
  const latencies = [];
  const statuses = [];
  for (let i = 0; i < m.n; i++) {
    const t = performance.now();
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await r.arrayBuffer();
    latencies.push(performance.now() - t);
    if (r.status !== 200) statuses.push(r.status);
  }
  process.send({ latencies, statuses });
});
process.send('ready');
