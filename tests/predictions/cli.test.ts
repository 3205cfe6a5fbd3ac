import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => server?.close());

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'predictions', ...args, '--url', server.url], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('modelhost predictions', () => {
  it('create --wait prints a progress line, then the finished prediction; get, list and cancel read it back', { timeout: 60_000 }, async () => {
    const created = await cli(['create', 'tiny/gpt2', '-i', 'prompt=the fox', 'max_new_tokens=5', '--wait']);
    expect(created.code, created.stderr).toBe(0);
    const id = /^([a-z2-7]{26})\s+tiny\/gpt2\s+succeeded/m.exec(created.stdout)?.[1];
    expect(id, created.stdout).toBeTruthy();
    expect(created.stderr).toMatch(new RegExp(`${id} (starting|processing) · \\d+\\.\\d s`));
    const got = await cli(['get', id!, '--json']);
    expect(JSON.parse(got.stdout)).toMatchObject({ id, status: 'succeeded', model: 'tiny/gpt2' });
    const listed = await cli(['list']);
    expect(listed.stdout).toContain(id);
    const canceled = await cli(['cancel', id!]);
    expect(canceled.stdout).toMatch(/succeeded/);
    const bad = await cli(['create', 'no/such-model', '-i', 'prompt=x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/404: Model no\/such-model does not exist/);
  });
});
