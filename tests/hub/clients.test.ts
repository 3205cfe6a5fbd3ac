/**
 * `@huggingface/hub` downloads from modelhost unchanged (`hubUrl`), and what snapshotDownload writes is a
 * regular HF cache: scanCacheDir lists it, and a second modelhost serves it under the same Hub id and commit
 * (the mirror chain: server A's folder → the JS client → an HF cache → server B).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { downloadFile, fileDownloadInfo, fileExists, listFiles, modelInfo, scanCacheDir, snapshotDownload } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { postJson, startServer, type TestServer } from '../helpers/server.ts';
import { filesOf, gitBlobSha1, sha256 } from './helpers.ts';

const ID = 'tiny/bert-ner';
const SOURCE = path.join(TEST_MODELS_DIR, ID);
const source = (rel: string) => readFileSync(path.join(SOURCE, rel));
let a: TestServer;
let scratch: string;

beforeAll(async () => {
  a = await startServer();
  scratch = mkdtempSync(path.join(tmpdir(), 'mh-hub-clients-'));
});
afterAll(async () => {
  await a.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('@huggingface/hub with hubUrl', () => {
  it('modelInfo and listFiles describe the repository', async () => {
    const info = await modelInfo({ name: ID, hubUrl: a.url, additionalFields: ['sha'] });
    expect(info).toMatchObject({ name: ID, task: 'token-classification', private: false, gated: false });
    expect(info.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(info.updatedAt.getTime()).toBeGreaterThan(0);
    const listed = [];
    for await (const entry of listFiles({ repo: ID, recursive: true, hubUrl: a.url })) listed.push(entry);
    expect(listed.filter((e) => e.type === 'file').map((e) => e.path).sort()).toEqual(filesOf(SOURCE));
    const onnx = listed.find((e) => e.path === 'onnx/model.onnx');
    expect(onnx?.lfs).toMatchObject({ oid: sha256(source('onnx/model.onnx')), size: source('onnx/model.onnx').length });
  });

  it('fileDownloadInfo, downloadFile and fileExists see files as on the Hub', async () => {
    const info = await fileDownloadInfo({ repo: ID, path: 'tokenizer.json', hubUrl: a.url });
    // The client hands the ETag over as the header says it, quoted, as huggingface.co sends it.
    expect(info).toMatchObject({ size: source('tokenizer.json').length, etag: `"${gitBlobSha1(source('tokenizer.json'))}"` });
    const lfs = await fileDownloadInfo({ repo: ID, path: 'onnx/model.onnx', hubUrl: a.url });
    expect(lfs).toMatchObject({ size: source('onnx/model.onnx').length, etag: `"${sha256(source('onnx/model.onnx'))}"` });
    const blob = await downloadFile({ repo: ID, path: 'onnx/model.onnx', hubUrl: a.url });
    expect(Buffer.from(await blob!.arrayBuffer()).equals(source('onnx/model.onnx'))).toBe(true);
    // A missing file: null, not an error (the client needs the EntryNotFound code for that).
    expect(await downloadFile({ repo: ID, path: 'generation_config.json', hubUrl: a.url })).toBeNull();
    expect(await fileExists({ repo: ID, path: 'config.json', hubUrl: a.url })).toBe(true);
    expect(await fileExists({ repo: ID, path: 'onnx/model.onnx', hubUrl: a.url })).toBe(true);
    expect(await fileExists({ repo: ID, path: 'nothing.bin', hubUrl: a.url })).toBe(false);
    await expect(modelInfo({ name: 'nobody/nothing', hubUrl: a.url })).rejects.toThrow(/not found/);
  });

  it('snapshotDownload writes an HF cache that scanCacheDir lists and a second modelhost serves', async () => {
    const cacheDir = path.join(scratch, 'hub');
    const { sha } = await modelInfo({ name: ID, hubUrl: a.url, additionalFields: ['sha'] });
    const snapshot = await snapshotDownload({ repo: ID, cacheDir, hubUrl: a.url });
    expect(snapshot).toBe(path.join(cacheDir, 'models--tiny--bert-ner', 'snapshots', sha));
    for (const rel of filesOf(SOURCE)) expect(readFileSync(path.join(snapshot, rel)).equals(source(rel)), rel).toBe(true);

    const scanned = await scanCacheDir(cacheDir);
    expect(scanned.warnings).toEqual([]);
    const repo = scanned.repos.find((r) => r.id.name === ID);
    expect(repo?.revisions.map((r) => [r.commitOid, r.refs])).toEqual([[sha, ['main']]]);
    // scanCacheDir lists a snapshot's top-level files only (2.17.5 skips its folders); the bytes were checked above.
    const topLevel = filesOf(SOURCE).filter((f) => !f.includes('/'));
    expect(repo?.revisions[0]?.files.map((f) => path.basename(f.path)).sort()).toEqual(topLevel);

    const b = await startServer({ modelsDir: path.join(scratch, 'no-models'), builtinModels: false, hfCache: cacheDir });
    try {
      // Same commit, same bytes, same answers as the folder it came from.
      const info = await modelInfo({ name: ID, hubUrl: b.url, additionalFields: ['sha'] });
      expect(info.sha).toBe(sha);
      const onnx = await fetch(`${b.url}/${ID}/resolve/${sha}/onnx/model.onnx`);
      expect(onnx.headers.get('etag')).toBe(`"${sha256(source('onnx/model.onnx'))}"`);
      expect(Buffer.from(await onnx.arrayBuffer()).equals(source('onnx/model.onnx'))).toBe(true);
      const inputs = { inputs: 'Sarah lives in London and works at Acme' };
      const fromB = await postJson(`${b.url}/models/${ID}`, inputs);
      const fromA = await postJson(`${a.url}/models/${ID}`, inputs);
      expect(fromB.status).toBe(200);
      expect(fromB.json).toEqual(fromA.json);
    } finally {
      await b.close();
    }
  });
});
