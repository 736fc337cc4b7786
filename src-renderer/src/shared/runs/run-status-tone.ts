import type { RunSummary } from '../../../../src-shared/contract/runs';

/** The badge tone of a recorded run's status, the same in the jobs list, a job's history and the dashboard. */
export const statusTone: Record<RunSummary['status'], string> = {
  running: 'info',
  success: 'ok',
  partial: 'warn',
  failed: 'bad',
  cancelled: 'warn',
  interrupted: 'bad',
  missed: 'warn',
  skipped: 'warn',
};
