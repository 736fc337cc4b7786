import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { connect, liveDisks, MiB, testBackupOptions } from '../helpers/sim.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { hashDisksInXva } from '../helpers/xva-content.js';

// A full backup's total is an estimate (the host's /export sends no length): it starts from the disks'
// allocation and is narrowed as the stream shows each disk. On a thick LVM SR the allocation is the whole
// disk while the export leaves out its zeros, so the estimate must come down as the stream goes; on a file
// SR the allocation is the VHD's blocks, close to what the export carries. A disk left out by name is not
// exported, nor counted.

let sim: SimHandle;
let xapi: XapiSession;
const GiB = 1024 * MiB;

beforeAll(async () => {
  sim = await startSimulator({
    srs: [
      { name: 'Local storage', type: 'lvm', shared: false, physicalSize: 100 * GiB },
      { name: 'NFS storage', type: 'nfs', shared: true, physicalSize: 100 * GiB },
    ],
    defaultSr: 'NFS storage',
    vms: [
      {
        name: 'thick',
        powerState: 'Halted',
        disks: [
          { name: 'thick os', size: 96 * MiB, allocated: 6 * MiB, sr: 'Local storage' },
          { name: 'thick data', size: 64 * MiB, allocated: 4 * MiB, sr: 'Local storage' },
        ],
      },
      { name: 'thin', powerState: 'Halted', disks: [{ name: 'thin os', size: 96 * MiB, allocated: 12 * MiB }] },
      {
        name: 'mixed',
        powerState: 'Halted',
        disks: [
          { name: 'mixed os', size: 32 * MiB, allocated: 8 * MiB },
          { name: 'mixed swap [NOBAK]', size: 256 * MiB, allocated: 16 * MiB, sr: 'Local storage' },
        ],
      },
    ],
    loginFailureDelayMs: 50,
  });
  xapi = await connect(sim);
});
afterAll(async () => {
  await xapi?.close();
  await sim?.stop();
});

interface BackedUp {
  bytes: number;
  transfer: TransferProgress[];
  logs: string[];
  disksInXva: string[];
}

async function backUp(name: string): Promise<BackedUp> {
  const temp = makeTempDir();
  const work = makeTempDir();
  try {
    const opts = testBackupOptions(temp.dir, work.dir, { speedLimitBytesPerSec: 6 * MiB });
    const { selected } = await resolveVms(xapi, [name]);
    const r = await runFullBackup(xapi, selected[0]!.ref, opts);
    const disksInXva = await hashDisksInXva(r.xvaPath, work.dir);
    return {
      bytes: r.bytes,
      transfer: opts.progress.filter((p) => p.phase === 'transfer'),
      logs: opts.logs,
      disksInXva,
    };
  } finally {
    temp.cleanup();
    work.cleanup();
  }
}

const hostObjects = () => ({
  vms: Object.keys(sim.control.records('VM')).length,
  vdis: Object.keys(sim.control.records('VDI')).length,
  vbds: Object.keys(sim.control.records('VBD')).length,
});

const fraction = (p: TransferProgress) => (p.totalBytes === null ? null : p.bytesWritten / p.totalBytes);

describe('a full backup’s estimated total', () => {
  it('on a thick SR starts at the disks’ size and comes down as the stream skips their zeros, never going up', async () => {
    const { bytes, transfer } = await backUp('thick');
    const totals = transfer.map((p) => p.totalBytes);
    expect(transfer.length).toBeGreaterThan(4);
    expect(transfer.every((p) => p.totalEstimate === 'allocation')).toBe(true);
    // The allocation of a thick volume is the whole disk: far above what the export carries.
    expect(totals[0]).toBeGreaterThan(150 * MiB);
    expect(bytes).toBeLessThan(40 * MiB);
    // Narrowed while the stream ran: well below where it started before the transfer ended, and never up.
    const beforeEnd = transfer.filter((p) => p.bytesWritten < bytes);
    expect(Math.min(...beforeEnd.map((p) => p.totalBytes!))).toBeLessThan(totals[0]! / 2);
    for (let i = 1; i < totals.length; i++) expect(totals[i]!).toBeLessThanOrEqual(totals[i - 1]!);
    // So the bar only moves forward, and never claims the end before it.
    const fractions = transfer.map(fraction);
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]!).toBeGreaterThanOrEqual(fractions[i - 1]!);
    expect(transfer.every((p) => p.totalBytes! >= p.bytesWritten)).toBe(true);
  });

  it('on a file SR starts near what the export carries (the VHD’s blocks), and ends exact', async () => {
    const { bytes, transfer } = await backUp('thin');
    const first = transfer[0]!.totalBytes!;
    expect(first).toBeGreaterThanOrEqual(bytes);
    expect(first).toBeLessThan(bytes * 1.2);
    expect(transfer.every((p) => p.totalEstimate === 'allocation')).toBe(true);
  });
});

describe('a full backup of a VM with a disk named [NOBAK]', () => {
  it('leaves that disk out of the XVA and of the estimate, says so, and leaves the host as it was', async () => {
    const before = hostObjects();
    const { bytes, transfer, logs, disksInXva } = await backUp('mixed');
    const [os, swap] = liveDisks(sim, 'mixed');
    expect(disksInXva).toEqual([await sim.control.hashVdi(os!.uuid)]);
    expect(logs.some((l) => l.includes('Skipping disk "mixed swap [NOBAK]"'))).toBe(true);
    // The thick volume of the left-out disk (256 MiB) is not counted in the estimate.
    expect(transfer[0]!.totalBytes!).toBeLessThan(bytes + 4 * MiB);
    // The live VM keeps both disks; the snapshot is gone with what was left of its own.
    expect(liveDisks(sim, 'mixed').map((d) => d.uuid)).toEqual([os!.uuid, swap!.uuid]);
    expect(hostObjects()).toEqual(before);
  });
});
