import os from 'node:os';
import { preflightRemote } from '../remotes/folder-remote.js';

export interface SpoolBudget {
  dir: string;
  /** What the spool may hold, all runs in flight together. */
  capBytes: number;
  /** The cap was cut to half the free space of the spool's disk (say so: the admin asked for more). */
  limitedByFreeSpace: boolean;
}

/**
 * The spool-cap rule, written once for every run (backups, restores, exports): the spool folder is proven
 * writable, and the spool never takes more than half of what is free where it lives, whatever was asked, so
 * a long stall of the destination cannot fill the workstation's disk.
 */
export async function spoolBudget(wantedBytes: number, dir: string | null | undefined): Promise<SpoolBudget> {
  const spoolDir = dir ?? os.tmpdir();
  const check = await preflightRemote(spoolDir, { purpose: 'spool' });
  const capBytes = Math.max(0, Math.min(wantedBytes, Math.floor(check.freeBytes / 2)));
  return { dir: spoolDir, capBytes, limitedByFreeSpace: capBytes < wantedBytes };
}
