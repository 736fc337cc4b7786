import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import type { BackupPoint } from '../repository/index.js';

export interface RestoreOptions {
  runId: string;
  /** The SR of the disks (uuid); default: the pool's default SR. */
  srUuid?: string;
  /**
   * An SR per disk, keyed by the disk's uuid or position ("0", "1"…); the others go to srUuid. A full point's
   * XVA is imported onto one SR and the disks wanted elsewhere are then copied there (full-point-placement.ts).
   */
  diskSrs?: Record<string, string>;
  /** The new VM's name; default: the backed-up VM's name and the point's date (restoredVmName). */
  name?: string;
  /** Start the VM once restored. */
  start?: boolean;
  memoryBufferBytes: number;
  spoolDir: string | null;
  spoolCapBytes: number;
  speedLimitBytesPerSec: number | null;
  /** Every point of the repository: when the chosen one is damaged, the error names the nearest good one. */
  points?: BackupPoint[];
  signal?: AbortSignal;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
}

export interface RestoredDisk {
  vdiRef: string;
  vdiUuid: string;
  name: string;
  position: string;
  srUuid: string;
  /** Bytes sent to the host for this disk. */
  bytes: number;
}

export interface RestoreResult {
  vmRef: string;
  vmUuid: string;
  name: string;
  disks: RestoredDisk[];
  bytes: number;
  started: boolean;
  durationMs: number;
}
