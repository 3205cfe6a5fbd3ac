// A replica process starts without tsx's loader when modelhost itself runs from a loader hook; register it here.
import { register } from 'tsx/esm/api';

register();
await import('./replica-process.ts');
