import type { BackupPhase } from '../../../../src-shared/contract/backup-phases.js';
import type { BackupRunResult } from '../../../../src-shared/contract/backups.js';
import type { TransferProgress } from '../../../../src-shared/contract/transfers.js';
import type { Verdict } from './bottleneck.js';
import type { RingBuffer } from './ring-buffer.js';

/** What the run store keeps of one run, and the layout of the history its graph draws (one row per point). */

export const COL = { t: 0, source: 1, destination: 2, buffered: 3, spool: 4, done: 5, verdict: 6 } as const;
export const HISTORY_WIDTH = 7;
/** The verdict column holds an index into this list. */
export const VERDICTS: Verdict[] = ['unknown', 'source', 'destination', 'balanced', 'limit'];
/** Phases after which a transfer moves no more bytes. */
export const TERMINAL: ReadonlySet<BackupPhase> = new Set(['done', 'failed', 'cancelled', 'skipped']);

export interface RunItem {
  key: string;
  vm: TransferProgress['vm'];
  disk: TransferProgress['disk'];
  latest: TransferProgress;
}

export interface RunLogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface RunStartInfo {
  label: string;
  vms: Array<{ uuid: string; name: string }>;
  remoteName?: string;
  mode?: string;
  /** What the run is: it decides which channel cancels it and how its result reads (default: backup). */
  kind?: 'backup' | 'job' | 'mirror' | 'restore' | 'export' | 'verify' | 'delete';
  /** An operation's outcome in one sentence (operations.finished). */
  outcome?: string;
}

export interface Run {
  runId: string;
  info: RunStartInfo | null;
  firstSeen: number;
  items: Map<string, RunItem>;
  history: RingBuffer;
  cancelRequested: boolean;
  result: BackupRunResult | null;
  log: RunLogLine[];
  /** Bumped whenever this run changes, so its graph redraws for its own samples only. */
  version: number;
}
