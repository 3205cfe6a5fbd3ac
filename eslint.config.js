import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'models/**', 'perf/results/**', '.cache/**', 'data/**', 'src/ui/dist/**', 'test-results/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Blob: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Layer boundaries (DEVELOPERS.md): core imports no other layer; engine never imports the server.
    files: ['src/core/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../../*', '../engine/*', '../server/*', '../cli/*', '../store/*'] }] },
  },
  {
    files: ['src/engine/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/server/*', '**/cli/*'] }] },
  },
  {
    // Route modules only translate HTTP; what two of them share lives in src/server/handlers, so routes never
    // import each other (a sibling import once made a circle: providers <-> completions).
    files: ['src/server/routes/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\./|/routes/', message: 'Route modules do not import each other: move what they share to src/server/handlers.' }] },
      ],
    },
  },
  {
    // Handlers are below the routes: a handler that imported a route would bring the circle back.
    files: ['src/server/handlers/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '/routes/', message: 'Handlers do not import route modules.' }] }] },
  },
);
