#!/usr/bin/env node
// `npm run models:tiny` and `npm start`'s prestart: the compiled tiny-model factory (tools/tiny-models/main.ts).
import { runCompiled } from './build.js';

await runCompiled('tools/tiny-models/main');
