import type { BackupPointSummary } from '../../../../src-shared/contract/backups.js';
import { BACKUP_NOW_JOB_ID, CLI_BACKUP_JOB_ID, cliBackupJobName } from '../../../../src-shared/contract/runs.js';

/**
 * How the Backups table names a point's job and its place in a chain. Framework-free, so tested on its own.
 * Points keep the job's id (it is in the metadata, as Xen Orchestra writes it); the name comes from jobs.list.
 */

/** Job ids Sluice writes for backups started without a job. */
const UNSCHEDULED: Record<string, string> = {
  [BACKUP_NOW_JOB_ID]: '“Back up now” (no job)',
  [CLI_BACKUP_JOB_ID]: 'command line (no job)',
};

export interface JobLabel {
  text: string;
  /** The job no longer exists: the text is its id. */
  gone: boolean;
}

export function jobLabel(jobId: string, jobs: ReadonlyArray<{ id: string; name: string }> | null): JobLabel {
  const job = jobs?.find((j) => j.id === jobId);
  if (job) return { text: job.name, gone: false };
  const unscheduled = UNSCHEDULED[jobId];
  if (unscheduled) return { text: unscheduled, gone: false };
  const cliJob = cliBackupJobName(jobId);
  if (cliJob !== undefined) return { text: `command line, --job ${cliJob}`, gone: false };
  // Jobs not read (yet, or failed to be): the id, not a claim that the job is gone.
  return { text: jobId, gone: jobs !== null };
}

/** "standalone", "base of 3", "delta 3 of 3 on 20/11/2026, 10:00:00", "broken: …". */
export function chainText(chain: BackupPointSummary['chain'], formatTime: (iso: string) => string): string {
  switch (chain.kind) {
    case 'standalone':
      return 'standalone';
    case 'base':
      return chain.length > 1 ? `base of ${chain.length}` : 'base';
    case 'delta': {
      const on = chain.baseTimestamp ? formatTime(chain.baseTimestamp) : `point ${chain.basePointId}`;
      return `delta ${chain.position} of ${chain.length} on ${on}${chain.uniform ? '' : ' (its disks are on different chains)'}`;
    }
    case 'broken':
      return `broken: ${chain.reason}`;
  }
}
