// Lint rules keep the worlds apart (as Signal Desktop does): the engine runs under plain Node and never imports
// Electron; the renderer never imports Node or Electron; the shared contract imports neither. Inside the engine,
// folders are layers: each imports only from below, and nothing imports in a cycle.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import importX from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import allowedPackages from './eslint-rules/allowed-packages.js';

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

// The engine's layers, lowest first. A folder imports only from itself and from folders in lower layers;
// folders that share a layer do not import each other (backup/, restore/ and export/ are siblings). src-shared
// sits below them all. docs/ARCHITECTURE.md draws the same map.
export const ENGINE_LAYERS = [
  ['errors'],
  ['core'],
  ['formats', 'xapi', 'settings', 'secrets', 'ipc'],
  ['transfer'],
  ['remotes'],
  ['repository'],
  ['backup', 'restore', 'export', 'mirror'],
  ['runs'],
  ['jobs'],
  ['engine'],
  ['server'],
  ['cli', 'electron'],
];

// Which npm packages each world may import. Adding a dependency to a world is a decision, made here.
// @aws-sdk/client-s3: the S3 remote (src-main/remotes/s3-*.ts), see docs/ARCHITECTURE.md.
const ENGINE_PACKAGES = ['@aws-sdk/client-s3', 'conf', 'croner', 'undici', 'ws', 'xxhash-wasm', 'zod'];
const WORLD_PACKAGES = {
  shared: ['zod'],
  renderer: ['react', 'react-dom', 'uplot', 'croner', 'zod'],
  engine: ENGINE_PACKAGES,
  electron: [...ENGINE_PACKAGES, 'electron', 'electron-store'],
  simulator: ['undici', 'ws', 'xxhash-wasm', 'zod'],
};

function layerZones({ simulator }) {
  const zones = [];
  ENGINE_LAYERS.forEach((layer, i) => {
    const below = ENGINE_LAYERS.slice(0, i).flat();
    for (const folder of layer) {
      zones.push({
        target: `./src-main/${folder}`,
        from: './src-main',
        except: [`./${folder}`, ...below.map((f) => `./${f}`)],
        message: `src-main/${folder}/ may import only from ${below.length ? below.join(', ') + ' and ' : ''}src-shared: move the shared piece down a layer, or pass it in from above.`,
      });
    }
  });
  // The repository has one door: code outside it imports repository/index.ts, never its parts.
  for (const folder of ENGINE_LAYERS.flat().filter((f) => f !== 'repository'))
    zones.push({
      target: `./src-main/${folder}`,
      from: './src-main/repository',
      except: ['./index.ts'],
      message: 'Outside repository/, import the repository through its door, repository/index.ts.',
    });
  if (!simulator)
    zones.push({
      target: './src-main',
      from: './src-sim',
      message: 'src-main reaches the simulator only through cli/commands/demo-pool.ts (the demo ships it).',
    });
  zones.push(
    {
      target: './src-main',
      from: ['./test', './bench', './scripts', './src-renderer'],
      message: 'Product code does not import tests, benchmarks, scripts or the renderer.',
    },
    {
      target: './src-shared',
      from: ['./src-main', './src-renderer', './test', './bench', './scripts'],
      message: 'src-shared depends on nothing but zod.',
    },
  );
  return zones;
}

const typedFiles = [
  'src-main/**/*.ts',
  'src-shared/**/*.ts',
  'src-renderer/src/**/*.{ts,tsx}',
  'test/xapi-sim/**/*.ts',
];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'dist-renderer/', 'dist-electron/', 'dist-cli/', 'release/', 'test-output/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX, sluice: { rules: { 'allowed-packages': allowedPackages } } },
    languageOptions: { globals: { ...globals.node } },
    settings: {
      // Without these, import-x treats .ts files as foreign and the cycle check never looks inside them.
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: ['tsconfig.sim.json', 'tsconfig.node.json', 'tsconfig.renderer.json'],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src-main/**/*.ts', 'src-shared/**/*.ts', 'src-renderer/src/**/*.{ts,tsx}'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layerZones({ simulator: false }) }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['warn', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    // The engine has none left (issue 14): a new one fails the build there, and stays a warning in the UI,
    // whose components are long mostly by their markup.
    files: ['src-main/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    files: ['src-main/cli/commands/demo-pool.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones({ simulator: true }) }] },
  },

  {
    // Promises nobody awaits lose their errors (an unhandled rejection kills the engine mid-backup); an async
    // callback where a sync one is expected runs unawaited. Both need types to see.
    files: typedFiles,
    languageOptions: {
      parserOptions: {
        project: ['tsconfig.sim.json', 'tsconfig.node.json', 'tsconfig.renderer.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
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
    files: ['src-main/**/*.ts'],
    ignores: ['src-main/electron/**'],
    rules: {
      'sluice/allowed-packages': ['error', { world: 'engine', packages: WORLD_PACKAGES.engine, nodeBuiltins: true }],
    },
  },
  {
    files: ['src-main/electron/**/*.ts'],
    rules: {
      'sluice/allowed-packages': [
        'error',
        { world: 'electron', packages: WORLD_PACKAGES.electron, nodeBuiltins: true },
      ],
    },
  },
  {
    files: ['src-sim/**/*.ts'],
    rules: {
      'sluice/allowed-packages': [
        'error',
        { world: 'simulator', packages: WORLD_PACKAGES.simulator, nodeBuiltins: true },
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
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'react-hooks/exhaustive-deps': 'error',
      'sluice/allowed-packages': ['error', { world: 'renderer', packages: WORLD_PACKAGES.renderer }],
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
      'sluice/allowed-packages': ['error', { world: 'shared', packages: WORLD_PACKAGES.shared }],
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron'],
          patterns: [
            {
              group: nodeBuiltins,
              message: 'The shared contract runs in both Node and the browser: no Node modules.',
            },
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
