/**
 * The pages over plain HTTP: security headers, embedding, asset caching, which routes are open once tokens
 * exist, and the Gradio queue's refusals.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

describe('pages over HTTP', () => {
  test('a page allows only its own origin, and only embeds may be framed elsewhere', async () => {
    const page = await fetch(`${server.url}/spaces/tiny/bert-sentiment`);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const embed = await fetch(`${server.url}/spaces/tiny/bert-sentiment?embed=1`);
    expect(embed.headers.get('content-security-policy')).toContain('frame-ancestors *');
  });

  test('bootstrap JSON cannot close its script element', async () => {
    const html = await (await fetch(`${server.url}/spaces/x/%3C%2Fscript%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E`)).text();
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('\\u003c/script\\u003e');
  });

  test('hashed assets are cached for a year; unknown or odd names are 404', async () => {
    const html = await (await fetch(`${server.url}/spaces`)).text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const res = await fetch(`${server.url}${asset}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(res.headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${server.url}/ui/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/assets/..%2F..%2Fpackage.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/samples/image.png`)).headers.get('content-type')).toBe('image/png');
  });

  test('the Gradio queue refuses a join without a session and an unknown endpoint', async () => {
    const base = `${server.url}/spaces/tiny/bert-sentiment/gradio_api`;
    const noSession = await postJson(`${base}/queue/join`, { data: ['x'], fn_index: 0 });
    expect(noSession.status).toBe(400);
    expect(noSession.json.detail).toMatch(/session_hash/);
    const badFn = await postJson(`${base}/queue/join`, { data: ['x'], fn_index: 7, session_hash: 'abc' });
    expect(badFn.status).toBe(422);
    const upload = await fetch(`${base}/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(upload.status).toBe(400);
  });
});

describe('with tokens', () => {
  test('pages, assets, config and info stay open; runs and uploads need a token', async () => {
    const created = await postJson(`${server.url}/api/tokens`, { name: 'first', scopes: ['admin', 'inference'] });
    expect(created.status).toBe(201);
    for (const p of ['/spaces', '/spaces/tiny/vit', '/admin', '/admin/models', '/spaces/tiny/vit/config', '/spaces/tiny/vit/gradio_api/info', '/ui/samples/image.png']) {
      expect((await fetch(`${server.url}${p}`)).status, p).toBe(200);
    }
    expect((await postJson(`${server.url}/spaces/tiny/bert-sentiment/gradio_api/run/predict`, { data: ['x'] })).status).toBe(401);
    expect((await fetch(`${server.url}/api/console/overview`)).status).toBe(401);
    const ok = await postJson(`${server.url}/spaces/tiny/bert-sentiment/gradio_api/run/predict`, { data: ['x'] }, { authorization: `Bearer ${created.json.token}` });
    expect(ok.status).toBe(200);
  });
});
