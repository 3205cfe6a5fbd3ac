import { TEST_MODELS_DIR } from '../helpers/paths.ts';
import { writeTinyModels } from '../../tools/tiny-models/index.ts';
import { startServices, type StopServices } from './services.ts';

/**
 * Once per test run: generates the tiny models (skipped when the same factory version wrote them) and starts
 * the services the tests need (tests/setup/services.ts); the returned teardown stops them.
 */
export default async function setup(): Promise<StopServices> {
  const [models, services] = await Promise.allSettled([writeTinyModels(TEST_MODELS_DIR), startServices()]);
  if (models.status === 'rejected') {
    if (services.status === 'fulfilled') await services.value();
    throw models.reason;
  }
  if (services.status === 'rejected') throw services.reason;
  return services.value;
}
