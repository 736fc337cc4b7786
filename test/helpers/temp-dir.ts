import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp folder per test, removed afterwards; tests never touch the user's real settings. */
export function makeTempDir(prefix = 'sluice-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Temp folders for a test file: `temp()` makes one, `cleanupAll()` (in afterEach) removes them all. */
export function tempDirs(): { temp: () => string; cleanupAll: () => void } {
  const cleanups: Array<() => void> = [];
  return {
    temp: () => {
      const t = makeTempDir();
      cleanups.push(t.cleanup);
      return t.dir;
    },
    cleanupAll: () => cleanups.splice(0).forEach((c) => c()),
  };
}
