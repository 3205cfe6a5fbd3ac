#!/usr/bin/env node
// Runs the compiled CLI (dist/, `npm run build`), compiling first when the sources changed since (bin/build.js).
import { runCompiled } from './build.js';

await runCompiled('cli/main');
