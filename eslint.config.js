import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.serverless/**', '.esbuild/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // serverless/ holds CommonJS the serverless CLI loads with require().
    files: ['serverless/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', URL: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['public/**/*.js'],
    languageOptions: {
      globals: {
        window: 'readonly', document: 'readonly', EventSource: 'readonly', console: 'readonly', setTimeout: 'readonly',
        clearTimeout: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', performance: 'readonly', fetch: 'readonly',
        EventTarget: 'readonly', CustomEvent: 'readonly', MessageEvent: 'readonly', AbortController: 'readonly',
        TextDecoder: 'readonly', queueMicrotask: 'readonly',
      },
    },
  },
  {
    // Settings are read once, at the edge: functions/ passes them down; nothing below it looks at the environment.
    files: ['lib/**/*.ts', 'publisher/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'only functions/ reads process.env: take the setting as an argument (lib/config loads it)' }],
    },
  },
  {
    // The core stays runtime-free: transports and SDKs belong to adapters, sources and functions.
    files: ['lib/**/*.ts'],
    ignores: ['lib/adapters/**', 'lib/sources/**'],
    rules: {
      // Both spellings of each built-in: `from 'http'` loads the same module as `from 'node:http'`.
      'no-restricted-imports': ['error', { patterns: [
        'node:http', 'http', 'node:https', 'https', 'node:http2', 'http2', 'node:net', 'net', '@aws-sdk/*', 'ioredis', 'prom-client',
      ] }],
      'no-restricted-globals': ['error', 'awslambda'],
    },
  },
);
