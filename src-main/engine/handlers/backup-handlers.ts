import type { Handlers } from '../../ipc/ipc-dispatcher.js';
import type { BackupRuns } from '../backup-runs.js';

export function backupHandlers(runs: BackupRuns): Pick<Handlers, 'backup.start' | 'backup.cancel'> {
  return {
    'backup.start': async (req) => {
      const { runId } = await runs.start(req);
      return { runId };
    },
    'backup.cancel': async ({ runId }) => ({ cancelled: runs.cancel(runId) }),
  };
}
