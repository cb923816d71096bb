// Lint rules. The ones that matter most state the direction of imports between rooms (CLAUDE.md
// draws it; .dependency-cruiser.cjs checks the whole graph in CI): workflows/ stays deterministic,
// so it may import only Temporal's workflow API, core/contract and core/validate, and its own files
// (other rooms as types at most); nothing below a surface imports cli/ or slack/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Relative specifiers reaching into `rooms` from a file one folder deep. */
const into = (...rooms) => rooms.map((room) => `../${room}/*`);

/** One room's import fence: `rooms` it may not import (as values; `typesFrom` still as types). */
function fence(room, forbidden, { typesFrom = [], extra = [] } = {}) {
  const patterns = [...extra];
  if (forbidden.length) {
    patterns.push({
      group: into(...forbidden),
      message: `${room}/ does not import ${forbidden.join(', ')} (see CLAUDE.md, Layout).`,
    });
  }
  if (typesFrom.length) {
    patterns.push({
      group: into(...typesFrom),
      message: `${room}/ imports ${typesFrom.join(', ')} as types only (see CLAUDE.md, Layout).`,
      allowTypeImports: true,
    });
  }
  return { files: [`${room}/**/*.ts`], rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

const SURFACES = ['cli', 'slack'];

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
          // A #! line is read whole by the kernel (cli/poc.js); it cannot be wrapped.
          ignorePattern: '^#!',
        },
      ],
    },
  },
  {
    // Type-aware: a promise nobody awaits (or handed to a callback that does not await it) loses its
    // errors and its ordering — in a worker that is a step finishing after its run, or an
    // unhandled rejection that ends the process.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  fence('core', [
    'client',
    'docker',
    'render',
    'providers',
    'activities',
    'workflows',
    'worker',
    'cluster',
    ...SURFACES,
  ]),
  fence('docker', ['client', 'render', 'providers', 'activities', 'workflows', 'worker', 'cluster', ...SURFACES]),
  fence('providers', ['client', 'docker', 'render', 'activities', 'workflows', 'worker', 'cluster', ...SURFACES]),
  fence('render', ['client', 'docker', 'providers', 'activities', 'workflows', 'worker', 'cluster', ...SURFACES]),
  fence('activities', ['client', 'worker', 'cluster', ...SURFACES], { typesFrom: ['workflows'] }),
  fence('client', ['docker', 'render', 'providers', 'worker', 'cluster', ...SURFACES], {
    typesFrom: ['workflows', 'activities'],
  }),
  fence('worker', ['client', 'cluster', ...SURFACES], { typesFrom: ['workflows'] }),
  fence('cluster', ['client', 'docker', 'render', 'providers', 'activities', 'workflows', 'worker', ...SURFACES]),
  fence('slack', ['cli', 'docker', 'providers', 'activities', 'workflows', 'worker', 'cluster']),
  fence('workflows', ['client', 'docker', 'render', 'worker', 'cluster', ...SURFACES], {
    typesFrom: ['activities', 'providers'],
    extra: [
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
        group: ['../core/*', '!../core/contract.js', '!../core/validate.js'],
        message:
          'workflows/ imports only core/contract and core/validate as values (the rest of core/ has side effects).',
        allowTypeImports: true,
      },
    ],
  }),
  {
    // The workflow bundle loads these modules once, shared by every workflow of a worker
    // (worker/bundle-child.ts, preloadModules): module scope must hold no state a workflow could
    // change — no `let`/`var` and no collection or object made at module scope.
    files: ['workflows/**/*.ts', 'core/contract.ts', 'core/validate.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: ':matches(Program, Program > ExportNamedDeclaration) > VariableDeclaration[kind!="const"]',
          message: 'no module-scope let/var here: every workflow of a worker shares this module (see bundle-child.ts).',
        },
        {
          selector:
            ':matches(Program, Program > ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > ' +
            'NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet|Array|Object)$/]',
          message: 'no collection at module scope here: every workflow of a worker shares this module.',
        },
      ],
    },
  },
);
