/**
 * Who may read what over the Hub file API: everything on a loopback server before any token exists (its
 * owner calling); once tokens exist, the token rules; a repository whose card says `private: true` only with
 * a token that has the `inference` scope, and to everyone else it looks exactly like a missing one.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

const PUBLIC = 'tiny/bert-sentiment';
const PRIVATE = 'acme/secret-model';
let models: string;
let server: TestServer;

beforeAll(async () => {
  models = mkdtempSync(path.join(tmpdir(), 'mh-hub-access-'));
  cpSync(path.join(TEST_MODELS_DIR, PUBLIC), path.join(models, PUBLIC), { recursive: true });
  const secret = path.join(models, PRIVATE);
  cpSync(path.join(TEST_MODELS_DIR, 'tiny/bert-ner'), secret, { recursive: true });
  const card = readFileSync(path.join(secret, 'README.md'), 'utf8');
  writeFileSync(path.join(secret, 'README.md'), card.replace(/^---\n/, '---\nprivate: true\n'));
  server = await startServer({ modelsDir: models, builtinModels: false, anonymousTier: 'anonymous' });
});
afterAll(async () => {
  await server.close();
  rmSync(models, { recursive: true, force: true });
});

const at = (p: string, token?: string) => fetch(`${server.url}${p}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
const ids = async (token?: string) => ((await (await at('/api/models', token)).json()) as { id: string }[]).map((m) => m.id);

describe('access to the Hub file API', () => {
  it('lets the owner of a loopback server without tokens read everything, private repositories too', async () => {
    expect(await ids()).toEqual([PRIVATE, PUBLIC]);
    expect((await at(`/${PRIVATE}/resolve/main/config.json`)).status).toBe(200);
    expect(((await (await at(`/api/models/${PRIVATE}`)).json()) as { private: boolean }).private).toBe(true);
  });

  it('once tokens exist, hides a private repository from callers without an inference token', async () => {
    const tokens = server.composed.deps.access!.tokens;
    const reader = (await tokens.create({ name: 'reader', scopes: ['inference'] })).token;
    const admin = (await tokens.create({ name: 'ops', scopes: ['endpoints'] })).token;

    // Anonymous callers (let in at the anonymous tier): public files yes, the private repository is "not found".
    expect((await at(`/${PUBLIC}/resolve/main/config.json`)).status).toBe(200);
    expect(await ids()).toEqual([PUBLIC]);
    for (const p of [`/${PRIVATE}/resolve/main/config.json`, `/api/models/${PRIVATE}/tree/main`, `/api/models/${PRIVATE}/revision/main`]) {
      const res = await at(p);
      expect([res.status, res.headers.get('x-error-code')], p).toEqual([401, 'RepoNotFound']);
      const unknown = await at(p.replace(PRIVATE, 'acme/never-existed'));
      // Indistinguishable from a repository that does not exist (same status, code and wording).
      expect(((await res.json()) as { error: string }).error.replace(PRIVATE, 'X')).toBe(((await unknown.json()) as { error: string }).error.replace('acme/never-existed', 'X'));
    }
    const info = await at(`/api/models/${PRIVATE}`);
    expect([info.status, info.headers.get('x-error-code')]).toEqual([404, 'RepoNotFound']);
    const paths = await fetch(`${server.url}/api/models/${PRIVATE}/paths-info/main`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"paths":["config.json"]}' });
    expect(paths.status).toBe(401);

    // A token without the inference scope does not see it either; a bad token neither.
    expect((await at(`/api/models/${PRIVATE}/tree/main`, admin)).headers.get('x-error-code')).toBe('RepoNotFound');
    expect(await ids(admin)).toEqual([PUBLIC]);
    expect((await at(`/api/models/${PRIVATE}/tree/main`, `${reader}x`)).status).toBe(401);

    // An inference token reads it through every route.
    expect(await ids(reader)).toEqual([PRIVATE, PUBLIC]);
    const file = await at(`/${PRIVATE}/resolve/main/config.json`, reader);
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(readFileSync(path.join(models, PRIVATE, 'config.json')))).toBe(true);
    expect((await at(`/api/models/${PRIVATE}/tree/main`, reader)).status).toBe(200);
    expect((await at(`/api/models/${PRIVATE}?blobs=true`, reader)).status).toBe(200);
  });
});
