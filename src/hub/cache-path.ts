/**
 * Where the Hugging Face hub cache is (kept apart from src/hub/cache.ts so the configuration can name it
 * without loading the cache reader).
 */
import os from 'node:os';
import path from 'node:path';

/**
 * The cache folder the Python and JS clients use: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else
 * `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub` (the order of
 * `@huggingface/hub`'s getHFHubCachePath, with the environment passed in rather than read globally).
 */
export function hfCachePath(env: NodeJS.ProcessEnv): string {
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? path.join(home, 'hub');
}
