import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Tiny generated models used by the tests (written by tests/setup/global.ts, never committed). */
export const TEST_MODELS_DIR = path.join(REPO_ROOT, '.cache', 'test-models');
export const AUDIO_FIXTURES = path.join(REPO_ROOT, 'tests', 'fixtures', 'audio');
