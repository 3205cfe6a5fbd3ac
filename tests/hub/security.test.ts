/**
 * Paths and repository ids crafted to leave a repository are refused with a 4xx, and no file outside the
 * repository is ever touched: canary files sit next to the models (outside the repository, in the models
 * folder, in the org folder), their content must never appear in an answer, and every file-system call the
 * server's own code makes is recorded to show that none names a canary.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkFilePath } from '../../src/hub/paths.ts';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';
import { rawRequest } from './helpers.ts';

const touched = vi.hoisted(() => [] as string[]);

/** The module with every lower-case function recording its first argument when that is a path. */
const recording = vi.hoisted(() => (real: Record<string, unknown>) => {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(real)) {
    out[key] =
      typeof value === 'function' && /^[a-z]/.test(key)
        ? (...args: unknown[]) => {
            const first = args[0];
            if (typeof first === 'string' || first instanceof URL || Buffer.isBuffer(first)) touched.push(String(first instanceof URL ? first.pathname : first));
            return (value as (...a: unknown[]) => unknown)(...args);
          }
        : value;
  }
  return out;
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown>>();
  const wrapped = recording(real);
  return { ...wrapped, default: wrapped };
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<Record<string, unknown>>();
  const wrapped = recording(real);
  return { ...wrapped, default: wrapped };
});

const ID = 'tiny/bert-sentiment';
const SECRET = `canary-${randomBytes(12).toString('hex')}`;
let root: string;
let canaries: string[];
let server: TestServer;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'mh-hub-security-'));
  const models = path.join(root, 'models');
  cpSync(path.join(TEST_MODELS_DIR, ID), path.join(models, ID), { recursive: true });
  canaries = [path.join(root, 'canary.txt'), path.join(models, 'canary.txt'), path.join(models, 'tiny', 'canary.txt')];
  for (const c of canaries) writeFileSync(c, SECRET);
  // From here on only the server's code touches files (the test's own setup above is not its doing).
  touched.length = 0;
  server = await startServer({ modelsDir: models, builtinModels: false });
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** File paths after `/resolve/main/`, as sent on the wire (the router decodes each once). */
const FILE_PATHS = [
  '../canary.txt',
  '../../canary.txt',
  '../../../canary.txt',
  'onnx/../../canary.txt',
  'onnx/model.onnx/../../../canary.txt',
  '..',
  '.',
  './config.json',
  'onnx/./model.onnx',
  '/etc/passwd',
  '//etc/passwd',
  '%2fetc%2fpasswd',
  '%2e%2e/canary.txt',
  '%2e%2e%2fcanary.txt',
  '..%2fcanary.txt',
  '..%2F..%2Fcanary.txt',
  '.%2e/canary.txt',
  '%2e./canary.txt',
  'onnx%2f..%2f..%2fcanary.txt',
  '%252e%252e%252fcanary.txt',
  '..%252fcanary.txt',
  '%252e%252e/canary.txt',
  '..%5ccanary.txt',
  '..\\canary.txt',
  '%2e%2e%5c%2e%2e%5ccanary.txt',
  'config.json%00',
  'config.json%00.png',
  '%00',
  '..%00/canary.txt',
  'config.json%0d%0aX-Injected:%20yes',
  'C:%5cWindows%5cwin.ini',
  'C:/Windows/win.ini',
  '%c0%ae%c0%ae/canary.txt',
  '%uff0e%uff0e/canary.txt',
  '....//canary.txt',
  'onnx//model.onnx',
  'config.json/',
  '../bert-sentiment/config.json',
  '../../models/tiny/canary.txt',
  'canary.txt',
  '..;/canary.txt',
  'a'.repeat(5000),
  `${'a/'.repeat(700)}x`,
  `${'../'.repeat(300)}canary.txt`,
];

/** Whole paths whose repository id or revision is the crafted part. */
const ROUTE_PATHS = [
  '/%2e%2e/%2e%2e/resolve/main/canary.txt',
  '/tiny/..%2f..%2fcanary.txt/resolve/main/x',
  '/tiny/.../resolve/main/config.json',
  '/tiny/bert-sentiment%00/resolve/main/config.json',
  `/${'o'.repeat(200)}/x/resolve/main/config.json`,
  '/tiny/bert--sentiment/resolve/main/config.json',
  '/-tiny/x/resolve/main/config.json',
  '/tiny/x.git/resolve/main/config.json',
  '/tiny/%20/resolve/main/config.json',
  '/tiny/bert-sentiment/resolve/..%2f..%2f/config.json',
  '/tiny/bert-sentiment/resolve/%2e%2e/config.json',
  '/tiny/bert-sentiment/resolve/main%00/config.json',
  '/tiny/bert-sentiment/raw/%2e%2e/config.json',
  '/tiny/bert-sentiment/raw/main/..%2f..%2fcanary.txt',
  '/api/models/tiny/bert-sentiment/tree/main/..%2f..%2f',
  '/api/models/tiny/bert-sentiment/tree/main/%2e%2e',
  '/api/models/tiny/bert-sentiment/tree/..%2f..',
  '/api/models/%2e%2e/canary/revision/main',
  '/api/models/tiny/bert-sentiment/revision/..%2f..%2fcanary.txt',
  '/api/models/..%2f..%2fcanary.txt',
];

function expectRefused(what: string, res: { status: number; body: Buffer }) {
  expect(res.status, what).toBeGreaterThanOrEqual(400);
  expect(res.status, what).toBeLessThan(500);
  const text = res.body.toString('latin1');
  expect(text, what).not.toContain(SECRET);
  expect(text, what).not.toContain('root:x:0:0');
}

describe('crafted paths and ids', () => {
  it('has at least 50 of them', () => {
    expect(FILE_PATHS.length + ROUTE_PATHS.length).toBeGreaterThanOrEqual(50);
  });

  it('refuses every crafted file path on resolve and raw, GET and HEAD, with a 4xx', async () => {
    for (const p of FILE_PATHS) {
      for (const kind of ['resolve', 'raw']) {
        for (const method of ['GET', 'HEAD']) expectRefused(`${method} ${kind} ${p}`, await rawRequest(server.url, `/${ID}/${kind}/main/${p}`, { method }));
      }
    }
  });

  it('refuses crafted repository ids, revisions and tree paths with a 4xx', async () => {
    for (const p of ROUTE_PATHS) expectRefused(p, await rawRequest(server.url, p));
  });

  it('refuses crafted paths in paths-info bodies with a 400', async () => {
    for (const p of ['../canary.txt', '/etc/passwd', 'onnx\\..\\..\\canary.txt', 'config.json\u0000', '%2e%2e/canary.txt', 'a/../../canary.txt']) {
      const res = await fetch(`${server.url}/api/models/${ID}/paths-info/main`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ paths: [p] }) });
      expect(res.status, p).toBe(400);
      expect(await res.text()).not.toContain(SECRET);
    }
  });

  it('refuses traversal in the path check itself, before any lookup', () => {
    const decoded = FILE_PATHS.map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    const traversal = decoded.filter((p) => p.split(/[\\/]/).includes('..') || p.startsWith('/') || p.includes('\0') || /%2e|%2f|%5c/i.test(p));
    expect(traversal.length).toBeGreaterThan(25);
    for (const p of traversal) expect(() => checkFilePath(p), p).toThrow(/Invalid path/);
  });

  it('never touched a canary file, while it did read the repository', () => {
    const resolved = touched.map((t) => path.resolve(t));
    expect(resolved.some((t) => t.startsWith(path.join(root, 'models', ID)))).toBe(true);
    for (const c of canaries) expect(resolved, c).not.toContain(c);
  });

  it('still serves the real file (the checks do not refuse legitimate paths)', async () => {
    const ok = await rawRequest(server.url, `/${ID}/resolve/main/onnx/model.onnx`, { method: 'HEAD' });
    expect(ok.status).toBe(200);
  });
});
