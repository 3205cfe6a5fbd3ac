// The worker's entry when modelhost runs from its TypeScript sources (vitest, MODELHOST_FROM_SOURCE=1): worker
// threads start without the parent's loaders on Node 20, so tsx is registered here. Compiled, pool.ts starts
// dist/engine/worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
