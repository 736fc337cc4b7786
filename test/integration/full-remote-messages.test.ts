import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import type { SluiceError } from '../../src-main/errors/sluice-error.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { SimHandle } from '../../src-sim/index.js';
import { startSimulator } from '../../src-sim/index.js';
import { connect, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Issue 13: a remote that fills up during an incremental backup says so in words (which file, which side,
// what to do), never as the raw `ENOSPC: no space left on device, write`, and keeps nothing half-written.

let sim: SimHandle;
let xapi: XapiSession;
const { temp, cleanupAll } = tempDirs();
beforeAll(async () => {
  sim = await startSimulator({
    vms: [{ name: 'big', powerState: 'Halted', disks: [{ name: 'big system', size: 64 * MiB, allocated: 24 * MiB }] }],
  });
  xapi = await connect(sim);
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
  cleanupAll();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

const root = process.getuid?.() === 0;
describe.skipIf(!root)('a remote that fills up during an incremental backup', () => {
  it('names the file and the remote side, with what to do, and leaves no partial VHD', async () => {
    const mnt = path.join(temp(), 'small-remote');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8M', 'tmpfs', mnt]);
    try {
      const ref = (await resolveVms(xapi, ['big'])).selected[0]!.ref;
      const err = (await runDeltaBackup(xapi, ref, testBackupOptions(mnt, temp(), { jobId: 'job-full-remote' })).then(
        () => undefined,
        (e: unknown) => e,
      )) as SluiceError | undefined;
      expect(err).toBeDefined();
      expect(err!.message).not.toMatch(/ENOSPC/);
      expect(err!.message).toMatch(/the destination is full/);
      expect(err!.message).toContain(mnt);
      expect(err!.hint).toMatch(/Free space on the remote/);
      expect(filesUnder(mnt).filter((f) => f.endsWith('.vhd'))).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
