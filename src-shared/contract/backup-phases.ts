/** The phases of one VM's (or one disk's) backup, shared by live progress and the samples a run keeps. */
export const backupPhases = [
  'queued',
  'snapshot',
  'transfer',
  'verify',
  'commit',
  'merge',
  'cleanup',
  'done',
  'failed',
  'cancelled',
  'skipped',
] as const;
export type BackupPhase = (typeof backupPhases)[number];
