import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';

// Fixtures of the VHD tests: simulated disks in a temp folder, streams read whole, and qemu-img as an
// independent reader of the VHDs Sluice writes.

/** Whether qemu-img is installed; the checks against it are skipped where it is not. */
export const hasQemu = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Converts a VHD to a raw file with qemu-img and returns the raw file's path. qemu sizes a VHD whose creator it
 * does not know by its CHS geometry (a little under current_size), hence force_size_calc=current_size.
 */
export function qemuVhdToRaw(vhd: string, out = `${vhd}.raw`): string {
  execFileSync('qemu-img', [
    'convert',
    '--image-opts',
    `driver=vpc,force_size_calc=current_size,file.filename=${vhd}`,
    '-O',
    'raw',
    out,
  ]);
  return out;
}

/** Every piece of a stream, in one buffer. */
export async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

export interface VirtualDisks {
  /** The temp folder of the test file (disk backing files and the files the tests write). */
  readonly dir: string;
  /** A new simulated disk backed in `dir`, destroyed after the file's tests. */
  newDisk(size: number, seed: number, allocatedFraction?: number): VirtualDisk;
  /** Destroys `disk` (a snapshot, say) after the file's tests; returns it. */
  keep(disk: VirtualDisk): VirtualDisk;
}

/** Simulated disks for one test file, in a temp folder made before its tests and removed after them. */
export function virtualDisks(prefix: string): VirtualDisks {
  let dir: string | undefined;
  const disks: VirtualDisk[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await Promise.all(disks.map((d) => d.destroy()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const folder = (): string => {
    if (!dir) throw new Error('virtualDisks: the folder exists only while the tests run');
    return dir;
  };
  return {
    get dir() {
      return folder();
    },
    newDisk(size, seed, allocatedFraction = 0.5) {
      const disk = new VirtualDisk({ size, seed, allocatedFraction, backingDir: folder() });
      disks.push(disk);
      return disk;
    },
    keep(disk) {
      disks.push(disk);
      return disk;
    },
  };
}
