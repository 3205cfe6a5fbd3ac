import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { writeTinyModels } from '../../tools/tiny-models/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServices, type StopServices } from './services.ts';

/**
 * Servers serve the Hugging Face cache by default: tests (and the CLIs they spawn) get an empty one of their own,
 * never the machine's ~/.cache/huggingface. Set once, before the workers start, so they inherit it.
 */
let hubCacheIsolated = false;
function isolateHubCache(): void {
  // Global setup runs once per project, in one process: one cache for the whole run.
  if (hubCacheIsolated) return;
  hubCacheIsolated = true;
  const dir = mkdtempSync(path.join(tmpdir(), 'modelhost-test-hf-'));
  process.env.HF_HOME = dir;
  process.env.HF_HUB_CACHE = path.join(dir, 'hub');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * Once per test run: generates the tiny models (skipped when the same factory version wrote them) and starts
 * the services the tests need (tests/setup/services.ts); the returned teardown stops them.
 */
export default async function setup(): Promise<StopServices> {
  isolateHubCache();
  const [models, services] = await Promise.allSettled([writeTinyModels(TEST_MODELS_DIR), startServices()]);
  if (models.status === 'rejected') {
    if (services.status === 'fulfilled') await services.value();
    throw models.reason;
  }
  if (services.status === 'rejected') throw services.reason;
  return services.value;
}
