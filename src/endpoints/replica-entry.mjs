// The replica's entry when modelhost runs from its TypeScript sources (vitest, MODELHOST_FROM_SOURCE=1): the process
// is forked without the parent's loader flags, so tsx is registered here. Compiled, replica.ts forks
// dist/endpoints/replica-process.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./replica-process.ts');
