import type { RunSummary } from '../../../../src-shared/contract/runs.js';
import type { Run } from '../../shared/runs/run-model.js';

export interface VmLastRun {
  ok: boolean;
  cancelled: boolean;
  /** When that VM's backup ended (ISO). */
  at: string;
  message?: string | undefined;
}

/**
 * The last backup outcome of each VM: from the persisted run history (jobs and "Back up now", so a failure is
 * still shown after a restart), and from this window's runs for what ended since the history was read.
 * The newest outcome wins.
 */
export function lastRunByVm(history: RunSummary[], sessionRuns: Run[]): Map<string, VmLastRun> {
  const out = new Map<string, VmLastRun>();
  const offer = (vmUuid: string, r: VmLastRun) => {
    const cur = out.get(vmUuid);
    if (!cur || cur.at <= r.at) out.set(vmUuid, r);
  };
  for (const run of history) {
    for (const v of run.vms) {
      if (!v.finishedAt || (v.status !== 'success' && v.status !== 'failed' && v.status !== 'cancelled')) continue;
      // A VM "cancelled" because Sluice stopped mid-run (interrupted) is a backup that did not happen: failed.
      const cancelled = v.status === 'cancelled' && run.status === 'cancelled';
      offer(v.vmUuid, {
        ok: v.status === 'success',
        cancelled,
        at: v.finishedAt,
        message: v.error?.message ?? (v.status === 'success' ? undefined : run.errors[0]?.message),
      });
    }
  }
  for (const run of sessionRuns) {
    if (!run.result) continue;
    for (const v of run.result.vms)
      if (v.vmUuid)
        offer(v.vmUuid, {
          ok: v.ok,
          cancelled: run.result.cancelled,
          at: run.result.finishedAt,
          message: v.error?.message,
        });
  }
  return out;
}
