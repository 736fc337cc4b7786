import type { TransferProgress } from '../../src-shared/ipc-contract.js';
import type { RetryPolicy } from './retry-policy.js';

export type LogLevel = 'info' | 'warn' | 'error';
export type BackupLog = (level: LogLevel, message: string, context?: Record<string, string>) => void;

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
  signal?: AbortSignal;
  log: BackupLog;
  onProgress: (p: TransferProgress) => void;
}
