// Lint rules: typescript-eslint's recommended type-aware set, plus the few rules that catch
// real bugs in async code (floating promises are how messages get lost).
import { existsSync } from 'node:fs';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      '.tmp/',
      'data/',
      // The benchmark's anchor adapters need their own install (npm run bench:setup) to be linted
      // with types; CI installs it, so there they are always linted.
      ...(existsSync('bench/anchors/node_modules') || process.env.CI ? [] : ['bench/anchors/']),
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // A file-size budget (lines of code): past it a module does more than one thing; split it by
    // what it does. The largest today is jobs/jobs.ts (about 610).
    files: ['src/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 650, skipBlankLines: true, skipComments: true }] },
  },
  {
    // Time in the engine, jobs and stores comes from the injected clock, so tests can drive it
    // (TestClock) and PostgreSQL can use the database's. A deliberate use of real time says why
    // in an eslint-disable comment. (performance.now for measured durations and setImmediate for
    // a turn of the event loop are not the clock.)
    files: ['src/engine/**/*.ts', 'src/jobs/**/*.ts', 'src/stores/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval'].map((name) => ({
          name,
          message: 'use the injected clock (context.clock.setTimer / spool.clock) instead',
        })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'use the injected clock (clock.now()) instead' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'use new Date(clock.now()) instead',
        },
      ],
    },
  },
  {
    // The engine's API is the only door: the server and the CLI never reach past it to the store
    // (Spool.store is for the layers the engine carries, jobs and monitoring).
    files: ['src/server/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='store'][object.name='spool']",
          message: 'use the engine API (Spool, Queue, Topic, Jobs) instead of spool.store',
        },
        {
          selector: "MemberExpression[property.name='store'][object.property.name='spool']",
          message: 'use the engine API (Spool, Queue, Topic, Jobs) instead of spool.store',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Tool configs that their tools load with require().
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
);
