import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import type { SluiceError } from '../../src-main/errors/sluice-error.js';
import { startSimulator } from '../../src-sim/index.js';
import { connect, MiB, testBackupOptions } from '../helpers/sim.js';
import { tempDirs } from '../helpers/temp-dir.js';

// Issue 13: a host that dies during an incremental backup (the stream stops, the task can no longer say why)
// is reported as the host going away, with what was kept and what to do, never as a raw VHD format error.

const { temp, cleanupAll } = tempDirs();

describe('a host that goes away during an incremental backup', () => {
  it('says the host went away, that nothing was lost, and leaves no partial VHD', async () => {
    const own = await startSimulator({
      vms: [
        { name: 'files', powerState: 'Halted', disks: [{ name: 'files system', size: 32 * MiB, allocated: 16 * MiB }] },
      ],
      loginFailureDelayMs: 50,
    });
    const remote = temp();
    const session = await connect(own);
    try {
      own.control.addFault({ kind: 'rate-limit', bytesPerSecond: 4 * MiB });
      const ref = (await resolveVms(session, ['files'])).selected[0]!.ref;
      let killed = false;
      const opts = testBackupOptions(remote, temp(), {
        jobId: 'job-gone',
        retry: { attempts: 2, backoffMs: () => 10 },
        onProgress: (p) => {
          if (!killed && p.bytesRead > 2 * MiB) {
            killed = true;
            void own.stop();
          }
        },
      });
      const err = (await runDeltaBackup(session, ref, opts).then(
        () => undefined,
        (e: unknown) => e,
      )) as SluiceError | undefined;
      expect(killed).toBe(true);
      expect(err).toBeDefined();
      expect(err!.message).not.toMatch(/VHD ended after|INTERNAL/);
      expect(err!.message).toMatch(/stopped sending disk "files system" of files after .* it most likely went away/);
      expect(err!.message).toMatch(/The retries could not reach it/);
      expect(err!.hint).toMatch(/Nothing was lost: the backups already on the remote are untouched/);
      expect(err!.hint).toMatch(/Check that the host is up/);
      const vhds = readdirSync(remote, { recursive: true, withFileTypes: true }).filter(
        (e) => e.isFile() && e.name.endsWith('.vhd'),
      );
      expect(vhds.map((e) => path.join(e.parentPath, e.name))).toEqual([]);
    } finally {
      await session.close().catch(() => {});
      await own.stop();
      cleanupAll();
    }
  });
});
