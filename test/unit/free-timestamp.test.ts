import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupFolder } from '../../src-main/repository/index.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

const VM = '0e4d6e4a-6c1b-4d5e-9f3a-2b7c8d9e0f11';
/** A repository with an (empty) VM folder: the folder's path and the door to it. */
async function vmFolder(): Promise<{ dir: string; freeTimestamp: (now: Date) => Promise<Date> }> {
  const root = temp();
  const dir = path.join(root, 'xo-vm-backups', VM);
  mkdirSync(dir, { recursive: true });
  const folder = await BackupFolder.open(root, VM);
  return { dir, freeTimestamp: (now) => folder.freeTimestamp(now) };
}

describe("a new point's time stamp", () => {
  it('is now, to the second, in an empty folder', async () => {
    const { freeTimestamp } = await vmFolder();
    expect((await freeTimestamp(new Date('2026-01-02T03:04:05.678Z'))).toISOString()).toBe('2026-01-02T03:04:05.000Z');
  });

  it('comes after every point already there, even when its own second is free (retention keeps the newest)', async () => {
    const { dir, freeTimestamp } = await vmFolder();
    // 03:04:05 was deleted by retention; 03:04:06 remains: a run at 03:04:05 must not come out older than it.
    writeFileSync(path.join(dir, '20260102T030406Z.json'), '{}');
    writeFileSync(path.join(dir, '20260102T030406Z.xva'), '');
    writeFileSync(path.join(dir, 'cache.json.gz'), '');
    expect((await freeTimestamp(new Date('2026-01-02T03:04:05.100Z'))).toISOString()).toBe('2026-01-02T03:04:07.000Z');
  });
});
