// Lint rules. The one that matters most: workflows/ stays deterministic, so it may import only
// Temporal's workflow API and its own files (activities and Node built-ins as types at most).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'runner/jobs/', 'bench/results/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Prettier wraps code at 120 columns but not strings, comments or regexes; this catches those.
      'max-len': [
        'error',
        {
          code: 120,
          ignoreUrls: false,
          ignoreStrings: false,
          ignoreTemplateLiterals: false,
          ignoreRegExpLiterals: false,
          ignoreComments: false,
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'net', 'http', 'https'],
              message: 'workflows/ is deterministic: no Node built-ins (do I/O in an activity).',
            },
            {
              group: [
                'execa',
                'openai',
                'ollama',
                '@anthropic-ai/*',
                '@slack/*',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
              ],
              message: 'workflows/ is deterministic: side effects belong in activities/.',
              allowTypeImports: true,
            },
            {
              group: ['../activities/*', '../cli/*', '../worker/*', '../slack/*', '../providers/*'],
              message: 'workflows/ may import other rooms as types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
