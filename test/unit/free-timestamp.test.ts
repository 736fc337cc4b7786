import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freeTimestamp } from '../../src-main/backup/full-backup.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

describe("a new point's time stamp", () => {
  it('is now, to the second, in an empty folder', async () => {
    expect((await freeTimestamp(temp(), new Date('2026-01-02T03:04:05.678Z'))).toISOString()).toBe(
      '2026-01-02T03:04:05.000Z',
    );
  });

  it('comes after every point already there, even when its own second is free (retention keeps the newest)', async () => {
    const dir = temp();
    // 03:04:05 was deleted by retention; 03:04:06 remains: a run at 03:04:05 must not come out older than it.
    writeFileSync(path.join(dir, '20260102T030406Z.json'), '{}');
    writeFileSync(path.join(dir, '20260102T030406Z.xva'), '');
    writeFileSync(path.join(dir, 'cache.json.gz'), '');
    expect((await freeTimestamp(dir, new Date('2026-01-02T03:04:05.100Z'))).toISOString()).toBe(
      '2026-01-02T03:04:07.000Z',
    );
  });
});
