// Worker threads start without the parent's loaders on Node 20, so the TypeScript worker is loaded through tsx here.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
