import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_CATALOG } from '../src/core/tasks/catalog.ts';
import { TASK_IDS, allTaskSpecs } from '../src/core/tasks/index.ts';
import { README_PATH, renderTaskTable, tableIn } from '../tools/readme-tasks.ts';
import { REPO_ROOT } from './helpers/paths.ts';
import { startServer, type TestServer } from './helpers/server.ts';

describe('task catalogue', () => {
  it('has exactly one entry for every task the engine serves', () => {
    const listed = TASK_CATALOG.flatMap((e) => e.tasks);
    expect([...listed].sort()).toEqual([...TASK_IDS].sort());
    expect(new Set(listed).size).toBe(listed.length);
    for (const e of TASK_CATALOG) expect(e.inputs.length * e.answer.length, e.tasks.join()).toBeGreaterThan(0);
  });

  it('README.md\'s task table is the one the catalogue gives (run `npm run readme:tasks` after editing it)', () => {
    const readme = readFileSync(README_PATH, 'utf8');
    expect(tableIn(readme)).toBe(renderTaskTable());
    // One row per entry, each naming its tasks.
    const rows = tableIn(readme).split('\n').slice(2);
    expect(rows).toHaveLength(TASK_CATALOG.length);
    for (const id of TASK_IDS) expect(rows.some((r) => r.startsWith(`| ${id} |`) || r.includes(` ${id},`) || r.includes(`, ${id} |`))).toBe(true);
  });

  it('the generator\'s --check passes on the README and says how to fix a drifted one', () => {
    expect(() => execFileSync(process.execPath, ['--import', 'tsx', 'tools/readme-tasks.ts', '--check'], { cwd: REPO_ROOT, stdio: 'pipe' })).not.toThrow();
    const drifted = readFileSync(README_PATH, 'utf8').replace('| object-detection |', '| object-detection (edited by hand) |');
    expect(tableIn(drifted)).not.toBe(renderTaskTable());
    expect(() => tableIn('# no markers here')).toThrow(/markers/);
  });
});

describe('GET /api/tasks and /api/models?pipeline_tag', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('lists every served task with its input modality, answer and models', async () => {
    const res = await fetch(`${server.url}/api/tasks`);
    expect(res.status).toBe(200);
    const tasks = (await res.json()) as Record<string, { id: string; modality: string; inputs: string; answer: string; client: string | null; models: string[] }>;
    expect(Object.keys(tasks).sort()).toEqual([...TASK_IDS].sort());
    for (const spec of allTaskSpecs()) {
      expect(tasks[spec.id]!.modality).toBe(spec.modality);
      expect(tasks[spec.id]!.answer.length).toBeGreaterThan(0);
    }
    expect(tasks['object-detection']!.models).toContain('tiny/yolos');
    expect(tasks['object-detection']!.client).toBe('objectDetection');
    expect(tasks['zero-shot-image-classification']!.models).toContain('tiny/clip');
    expect(tasks['depth-estimation']!.models).toEqual(['tiny/dpt']);
    expect(tasks['image-feature-extraction']!.models).toContain('tiny/vit-features');
    expect(tasks['image-classification']!.models).not.toContain('tiny/yolos');
  });

  it('filters models by pipeline_tag, and a model\'s Hub page says its task', async () => {
    for (const [tag, id] of [['audio-classification', 'tiny/ast'], ['audio-classification', 'tiny/wav2vec2'], ['object-detection', 'tiny/yolos'], ['zero-shot-image-classification', 'tiny/clip'], ['depth-estimation', 'tiny/dpt'], ['image-feature-extraction', 'tiny/vit-features']]) {
      const list = (await (await fetch(`${server.url}/api/models?pipeline_tag=${tag}`)).json()) as { id: string; pipeline_tag: string }[];
      expect(list.map((m) => m.id), tag).toContain(id);
      for (const m of list) expect(m.pipeline_tag).toBe(tag);
      const info = (await (await fetch(`${server.url}/api/models/${id}`)).json()) as { pipeline_tag: string };
      expect(info.pipeline_tag).toBe(tag);
    }
  });
});
