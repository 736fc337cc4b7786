import { ESLint } from 'eslint';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/serve-process.js';

// The lint rules are the fence between Node, DOM and Electron code; prove each gate is shut (and open where it should be).
const eslint = new ESLint({ cwd: ROOT });
async function restrictedImportErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('lint boundaries', () => {
  it.each([
    ['src-main/engine/x.ts', "import { app } from 'electron';\nexport const a = app;\n"],
    ['src-main/engine/x.ts', "import Store from 'electron-store';\nexport const a = Store;\n"],
    ['src-main/engine/x.ts', "import { a } from '../electron/main.js';\nexport const b = a;\n"],
    ['src-renderer/src/x.ts', "import fs from 'node:fs';\nexport const a = fs;\n"],
    ['src-renderer/src/x.ts', "import { a } from '../../src-main/engine/engine.js';\nexport const b = a;\n"],
    ['src-shared/x.ts', "import os from 'os';\nexport const a = os;\n"],
  ])('refuses %s importing what it must not', async (file, code) => {
    expect(await restrictedImportErrors(file, code)).not.toEqual([]);
  });

  it('lets src-main/electron import electron', async () => {
    expect(
      await restrictedImportErrors(
        'src-main/electron/x.ts',
        "import { app } from 'electron';\nexport const a = app;\n",
      ),
    ).toEqual([]);
  });
});
