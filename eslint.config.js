// Lint rules keep the three worlds apart (as Signal Desktop does): the engine runs under plain Node and
// never imports Electron; the renderer never imports Node or Electron; the shared contract imports neither.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'os',
  'net',
  'tls',
  'http',
  'https',
  'child_process',
  'crypto',
  'stream',
  'stream/*',
  'zlib',
  'url',
  'util',
  'events',
  'worker_threads',
  'dgram',
  'dns',
  'buffer',
  'process',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'dist-renderer/', 'dist-electron/', 'dist-cli/', 'release/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src-main/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*', 'bin/**/*'],
    ignores: ['src-main/electron/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', 'electron/*', 'electron-store', '**/electron/**'],
              message: 'Only src-main/electron/ may touch Electron: the engine runs under plain Node.',
            },
          ],
        },
      ],
    },
  },
  {
    // The simulator ships (it is the pool behind `sluice demo`), yet stays a stand-in for a real host,
    // independent of the product it checks. src-main reaches it only through cli/commands/demo-pool.ts.
    files: ['src-sim/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['electron', 'electron/*', 'electron-store'],
              message: 'The simulator runs under plain Node.',
            },
            {
              group: ['**/src-main/**', '**/src-renderer/**', '**/src-shared/**', '**/test/**'],
              message:
                'The simulator is written independently of Sluice and its tests: it imports only Node and packages.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-renderer/**/*.ts', 'src-renderer/**/*.tsx'],
    ignores: ['src-renderer/vite.config.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron'],
          patterns: [
            {
              group: nodeBuiltins,
              message: 'The renderer runs in a sandbox: no Node modules. Ask the engine through the IPC contract.',
            },
            {
              group: ['**/src-main/**', 'electron', 'electron/*'],
              message: 'The renderer talks to the engine only through the typed IPC contract (src-shared/).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src-shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron'],
          patterns: [
            { group: nodeBuiltins, message: 'The shared contract runs in both Node and the browser: no Node modules.' },
            {
              group: ['**/src-main/**', '**/src-renderer/**', 'electron', 'electron/*'],
              message: 'src-shared depends on nothing but zod.',
            },
          ],
        },
      ],
    },
  },
);
