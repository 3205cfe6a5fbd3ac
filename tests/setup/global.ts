import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { writeTinyModels } from '../../tools/tiny-models/index.ts';

/** Generates the tiny models once per test run (skipped when the same factory version wrote them). */
export default async function setup(): Promise<void> {
  await writeTinyModels(TEST_MODELS_DIR);
}
