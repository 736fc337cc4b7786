import { ESLint } from 'eslint';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/serve-process.js';

// Each lint rule that shapes the tree is proven to fail on a planted violation. The probes are real files in
// the folders the rules guard (type-aware rules and the cycle check read files, not strings), removed after.
const probeId = `lint-probe-${process.pid}`;
const probes: Record<string, string> = {
  // An upward import: formats/ sits below engine/.
  'src-main/formats/PROBE/upward.ts': "import { Engine } from '../../engine/engine.js';\nexport const e = Engine;\n",
  // A sideways import between siblings of one layer.
  'src-main/export/PROBE/sideways.ts':
    "import { restorePoint } from '../../restore/restore-point.js';\nexport const r = restorePoint;\n",
  // The worlds: the engine never touches Electron; the renderer and the shared contract never touch Node or
  // the engine.
  'src-main/engine/PROBE/electron.ts': "import { app } from 'electron';\nexport const a = app;\n",
  'src-main/engine/PROBE/electron-store.ts': "import Store from 'electron-store';\nexport const a = Store;\n",
  'src-main/engine/PROBE/electron-folder.ts': "import { a } from '../../electron/main.js';\nexport const b = a;\n",
  'src-renderer/src/PROBE/node.ts': "import fs from 'node:fs';\nexport const a = fs;\n",
  'src-renderer/src/PROBE/engine.ts':
    "import { Engine } from '../../../src-main/engine/engine.js';\nexport const b = Engine;\n",
  'src-shared/PROBE/node.ts': "import os from 'os';\nexport const a = os;\n",
  'src-main/electron/PROBE/electron.ts': "import { app } from 'electron';\nexport const a = app;\n",
  // The repository is entered through its door only.
  'src-main/backup/PROBE/repository-part.ts':
    "import { lockVmFolder } from '../../repository/vm-folder-lock.js';\nexport const l = lockVmFolder;\n",
  'src-main/backup/PROBE/repository-door.ts':
    "import { BackupFolder } from '../../repository/index.js';\nexport const f = BackupFolder;\n",
  // Only the demo reaches the simulator.
  'src-main/engine/PROBE/simulator.ts':
    "import { startSimulator } from '../../../src-sim/index.js';\nexport const s = startSimulator;\n",
  // A cycle inside one folder.
  'src-main/core/PROBE/cycle-a.ts': "import { b } from './cycle-b.js';\nexport const a = (): number => b() + 1;\n",
  'src-main/core/PROBE/cycle-b.ts': "import { a } from './cycle-a.js';\nexport const b = (): number => a() - 1;\n",
  // Packages per world.
  'src-renderer/src/PROBE/package.ts': "import { request } from 'undici';\nexport const r = request;\n",
  'src-shared/PROBE/package.ts': "import Conf from 'conf';\nexport const c = Conf;\n",
  'src-main/engine/PROBE/package.ts': "import { useState } from 'react';\nexport const u = useState;\n",
  // Promises nobody awaits, and an async callback where a sync one is expected.
  'src-main/engine/PROBE/floating.ts':
    'async function work(): Promise<void> {}\nexport function start(): void {\n  work();\n}\n',
  'src-main/engine/PROBE/misused.ts':
    "import { EventEmitter } from 'node:events';\nexport function on(e: EventEmitter): void {\n  e.on('x', async () => {});\n  if (Promise.resolve(1)) e.emit('y');\n}\n",
  // Hooks called conditionally, and an effect that reads what it does not list.
  'src-renderer/src/PROBE/hooks.tsx':
    "import { useEffect, useState } from 'react';\nexport function Probe({ on, n }: { on: boolean; n: number }) {\n  if (on) useState(0);\n  useEffect(() => {\n    document.title = String(n);\n  }, []);\n  return null;\n}\n",
  // Too long: a file over 400 lines, a function over 80.
  'src-main/core/PROBE/long-file.ts':
    Array.from({ length: 405 }, (_, i) => `export const v${i} = ${i};`).join('\n') + '\n',
  'src-main/core/PROBE/long-function.ts':
    'export function long(): number {\n  let n = 0;\n' + '  n += 1;\n'.repeat(85) + '  return n;\n}\n',
  'src-renderer/src/PROBE/long-function.ts':
    'export function long(): number {\n  let n = 0;\n' + '  n += 1;\n'.repeat(85) + '  return n;\n}\n',
};

const results = new Map<string, ESLint.LintResult>();
const real = (rel: string) => path.join(ROOT, rel.replace('PROBE', probeId));
const probeDirs = [...new Set(Object.keys(probes).map((rel) => path.dirname(real(rel))))];

beforeAll(async () => {
  for (const [rel, code] of Object.entries(probes)) {
    mkdirSync(path.dirname(real(rel)), { recursive: true });
    writeFileSync(real(rel), code);
  }
  const eslint = new ESLint({ cwd: ROOT });
  for (const r of await eslint.lintFiles(Object.keys(probes).map(real))) results.set(r.filePath, r);
}, 180_000);

afterAll(() => {
  for (const d of probeDirs) rmSync(d, { recursive: true, force: true });
});

function rulesFired(rel: string, severity: 1 | 2 = 2): string[] {
  const r = results.get(real(rel));
  expect(r, `${rel} was linted`).toBeDefined();
  return r!.messages.filter((m) => m.severity === severity).map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

describe('lint rules fail on planted violations', () => {
  it.each([
    ['src-main/formats/PROBE/upward.ts', 'import-x/no-restricted-paths'],
    ['src-main/export/PROBE/sideways.ts', 'import-x/no-restricted-paths'],
    ['src-main/engine/PROBE/simulator.ts', 'import-x/no-restricted-paths'],
    ['src-main/backup/PROBE/repository-part.ts', 'import-x/no-restricted-paths'],
    ['src-main/core/PROBE/cycle-a.ts', 'import-x/no-cycle'],
    ['src-renderer/src/PROBE/package.ts', 'sluice/allowed-packages'],
    ['src-shared/PROBE/package.ts', 'sluice/allowed-packages'],
    ['src-main/engine/PROBE/package.ts', 'sluice/allowed-packages'],
    ['src-main/engine/PROBE/floating.ts', '@typescript-eslint/no-floating-promises'],
    ['src-main/engine/PROBE/misused.ts', '@typescript-eslint/no-misused-promises'],
    ['src-renderer/src/PROBE/hooks.tsx', 'react-hooks/rules-of-hooks'],
    ['src-renderer/src/PROBE/hooks.tsx', 'react-hooks/exhaustive-deps'],
    ['src-main/core/PROBE/long-file.ts', 'max-lines'],
  ])('%s fails %s', (rel, rule) => {
    expect(rulesFired(rel)).toContain(rule);
  });

  it.each([
    'src-main/engine/PROBE/electron.ts',
    'src-main/engine/PROBE/electron-store.ts',
    'src-main/engine/PROBE/electron-folder.ts',
    'src-renderer/src/PROBE/node.ts',
    'src-renderer/src/PROBE/engine.ts',
    'src-shared/PROBE/node.ts',
  ])('%s is refused what its world must not import', (rel) => {
    expect(rulesFired(rel)).toContain('no-restricted-imports');
  });

  it('lets code outside the repository import its door', () => {
    expect(rulesFired('src-main/backup/PROBE/repository-door.ts')).toEqual([]);
  });

  it('lets src-main/electron import electron', () => {
    expect(rulesFired('src-main/electron/PROBE/electron.ts')).toEqual([]);
  });

  it('refuses a function over 80 lines in the engine, and warns on one in the UI', () => {
    expect(rulesFired('src-main/core/PROBE/long-function.ts')).toContain('max-lines-per-function');
    expect(rulesFired('src-renderer/src/PROBE/long-function.ts', 1)).toContain('max-lines-per-function');
  });

  it('refuses a line over 120 columns through Prettier, which npm run lint runs', async () => {
    const pkg = (await import(path.join(ROOT, 'package.json'), { with: { type: 'json' } })) as {
      default: { scripts: { lint: string } };
    };
    expect(pkg.default.scripts.lint).toMatch(/prettier --check/);
    const file = path.join(ROOT, 'src-main/core/probe.ts');
    const options = { ...(await prettier.resolveConfig(file)), filepath: file };
    const long = `export const names = [${Array.from({ length: 14 }, (_, i) => `'name-${i}'`).join(', ')}];\n`;
    expect(long.length).toBeGreaterThan(120);
    expect(await prettier.check(long, options)).toBe(false);
    expect(await prettier.check(await prettier.format(long, options), options)).toBe(true);
  });
});
