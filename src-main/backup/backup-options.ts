import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { BackupLog } from '../core/run-log.js';
import type { RetentionPolicy } from '../repository/index.js';
import type { RetryPolicy } from './retry-policy.js';

export interface BackupRunOptions {
  runId: string;
  jobId: string;
  scheduleId?: string;
  remoteRoot: string;
  /** Host-side compression of full (XVA) exports. */
  compression: 'none' | 'zstd';
  memoryBufferBytes: number;
  spoolDir: string | null;
  spoolCapBytes: number;
  speedLimitBytesPerSec: number | null;
  /** Fail an attempt when the host sends nothing for this long while we want data (default 5 min). */
  silenceLimitMs?: number;
  retry?: RetryPolicy;
  /** Applied after the backup, as its own phase ("merge" for delta chains); absent: keep everything. */
  retention?: RetentionPolicy;
  /** Delta mode: force a full VHD when the chain already has this many points (bounds chain length); absent or 0: never. */
  fullInterval?: number;
  /**
   * Delta mode: write each disk as a VHD directory (XO's `useVhdDirectory`) even where the remote could take a
   * VHD file; a remote without rename or in-place updates (object storage) always gets directories.
   */
  useVhdDirectory?: boolean;
  /** Delta mode: disks of one VM exported in parallel (default 1). */
  diskConcurrency?: number;
  signal?: AbortSignal;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
}
