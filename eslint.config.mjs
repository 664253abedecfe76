// @ts-check
// eslint with typescript-eslint's type-aware rules, each file checked in its own tsconfig project
// (server, client, client/webview, test, bench). `npm run lint` runs it with `prettier --check`.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['out/', 'dist/', '.e2e/', '.crawl/', 'test/e2e/artifacts/', 'bench/results/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // An unhandled rejection is a crash waiting for its day: await it, or `void` it once it cannot reject.
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test() and describe() return promises the runner itself waits for.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // Off: an async function without await is how a synchronous engine (SQLite) keeps the Promise contract, a throw becoming a rejection.
      '@typescript-eslint/require-await': 'off',
      // Off: `require()` is the house's lazy load (a command loads only what it runs) and how tests stand in for `vscode`.
      '@typescript-eslint/no-require-imports': 'off',
      // Off: terminal, log and CSV escaping match control characters on purpose.
      'no-control-regex': 'off',
      // Off: an error rethrown here says its cause in its own message, written for the user; a cause is attached where its stack matters.
      'preserve-caught-error': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: true,
          allowBoolean: true,
          allowNullish: true,
          allowNumber: true,
          allowRegExp: true,
          // cli/format.ts's Text is escaped text, made to be written as a string.
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'file', name: 'Text', path: 'server/src/cli/format.ts' },
          ],
        },
      ],
      // A let that a closure reads before its one assignment stays a let: as a const it would be read in its dead zone.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_name` marks a parameter or a destructured field left out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests and benchmarks read JSON answers, stand-ins and the browser's globals untyped, by design.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // A test stringifies what it asserts on: a wrong stringification fails the assertion plainly.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // The build scripts and bin/crawlctl.js run on Node as they are.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly' } },
  },
);
