import { useEffect, useState } from 'react';
import type { RunStatus, RunSummary } from '../../../../src-shared/contract/runs';
import { useClient } from '../../client/client-context';
import type { RunStartInfo } from '../../shared/runs/run-model';
import { addRecordTo } from '../../shared/runs/run-results';
import { RunStore } from '../../shared/runs/run-store';

/** Runs that moved data and ended; missed and skipped runs never started, a running one shows live. */
const ENDED: ReadonlySet<RunStatus> = new Set(['success', 'partial', 'failed', 'cancelled', 'interrupted']);

/** A past run's card reads as the live one did: "Backup of <VM>" for "Back up now", "Job <name>" for a job. */
export function pastRunInfo(r: RunSummary): RunStartInfo {
  const vms = r.vms.map((v) => ({ uuid: v.vmUuid, name: v.vmName }));
  return {
    label: r.jobId === null ? `Backup of ${vms.map((v) => v.name).join(', ')}` : `Job ${r.jobName}`,
    vms,
    mode: r.mode,
    kind: r.jobId === null ? 'backup' : r.mirrorFrom ? 'mirror' : 'job',
    ...(r.remotes.length ? { remoteName: r.remotes.map((x) => x.name).join(', ') } : {}),
  };
}

export interface PastRuns {
  /** The history's ended runs (newest `limit`), rebuilt from their records; null while loading. */
  store: RunStore | null;
  error: unknown;
}

/**
 * The run history's ended runs, so Transfers still shows them after a reload: the engine keeps every run's
 * record and samples (`runs.list`, `runs.get`). Read once per visit: runs that end meanwhile are live ones.
 */
export function usePastRuns(limit = 20): PastRuns {
  const client = useClient();
  const [past, setPast] = useState<PastRuns>({ store: null, error: null });
  useEffect(() => {
    let live = true;
    void (async () => {
      try {
        const ended = (await client.invoke('runs.list', { limit })).filter((r) => ENDED.has(r.status));
        const records = await Promise.all(ended.map((r) => client.invoke('runs.get', { runId: r.runId })));
        const store = new RunStore();
        records.forEach((record, i) => {
          store.started(record.runId, pastRunInfo(ended[i]!), Date.parse(record.startedAt));
          addRecordTo(store, record);
        });
        if (live) setPast({ store, error: null });
      } catch (error) {
        if (live) setPast({ store: null, error });
      }
    })();
    return () => {
      live = false;
    };
  }, [client, limit]);
  return past;
}
