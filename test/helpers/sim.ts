import { startSimulator, type SimHandle, type SimOptions } from '../../src-sim/index.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupRunOptions } from '../../src-main/backup/backup-options.js';
import { XapiSession } from '../../src-main/xapi/xapi-session.js';

export const MiB = 1024 * 1024;

/** A small pool for engine tests: quick to back up, with the shapes that matter (2 disks, running, halted, no-bak). */
export function smallPool(overrides: SimOptions = {}): Promise<SimHandle> {
  return startSimulator({
    vms: [
      {
        name: 'web01',
        powerState: 'Halted',
        disks: [
          { name: 'web01 system', size: 24 * MiB, allocated: 8 * MiB },
          { name: 'web01 data', size: 12 * MiB + 512 * 1024, allocated: 4 * MiB },
        ],
      },
      { name: 'db01', powerState: 'Running', disks: [{ name: 'db01 system', size: 16 * MiB, allocated: 6 * MiB }] },
      {
        name: 'scratch',
        powerState: 'Halted',
        tags: ['xo:no-bak'],
        disks: [{ name: 'scratch disk', size: 8 * MiB, allocated: 1 * MiB }],
      },
    ],
    loginFailureDelayMs: 50,
    ...overrides,
  });
}

export function connect(sim: SimHandle, password = sim.password): Promise<XapiSession> {
  return XapiSession.connect({ url: sim.url, username: sim.username, password, trustedFingerprint: sim.fingerprint });
}

/** The live (not snapshot) disks of a VM, as the simulator's database has them. */
export function liveDisks(sim: SimHandle, vmName: string): Array<{ uuid: string; name: string }> {
  const vms = sim.control.records('VM');
  const vbds = sim.control.records('VBD');
  const vdis = sim.control.records('VDI');
  const ref = Object.keys(vms).find((r) => vms[r]!.name_label === vmName && vms[r]!.is_a_snapshot !== true)!;
  return Object.values(vbds)
    .filter((b) => b.VM === ref && b.type === 'Disk')
    .map((b) => ({ uuid: String(vdis[String(b.VDI)]!.uuid), name: String(vdis[String(b.VDI)]!.name_label) }));
}

/** Backup options for engine tests: small buffers, quick retries, logs and progress collected. */
export function testBackupOptions(
  remoteRoot: string,
  spoolDir: string,
  extra: Partial<BackupRunOptions> = {},
): BackupRunOptions & { logs: string[]; progress: TransferProgress[] } {
  const logs: string[] = [];
  const progress: TransferProgress[] = [];
  return {
    runId: `run-${Math.random().toString(36).slice(2)}`,
    jobId: 'job-test',
    remoteRoot,
    compression: 'none',
    memoryBufferBytes: 4 * MiB,
    spoolDir,
    spoolCapBytes: 16 * MiB,
    speedLimitBytesPerSec: null,
    retry: { attempts: 3, backoffMs: () => 50 },
    log: (level, message) => logs.push(`${level}: ${message}`),
    onProgress: (p) => progress.push(p),
    logs,
    progress,
    ...extra,
  };
}
