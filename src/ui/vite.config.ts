/**
 * Builds the Spaces pages and the console (src/ui/web) into src/ui/dist, which is committed so that
 * `npm ci && npm start` needs no build step; tests/ui/build.test.ts rebuilds into a temporary folder and checks
 * the committed files match. Two entries, so a Space page never loads the console's chart library.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/ui/',
  logLevel: 'warn',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: process.env.MODELHOST_UI_OUT ?? path.join(here, 'dist'),
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: false,
    reportCompressedSize: false,
    rollupOptions: {
      input: { spaces: path.join(here, 'web/spaces.tsx'), console: path.join(here, 'web/console.tsx') },
    },
  },
});
