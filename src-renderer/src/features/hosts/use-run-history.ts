import { useCallback, useEffect, useState } from 'react';
import type { RunSummary } from '../../../../src-shared/contract/runs';
import { useClient, useEvent } from '../../client/client-context';

/** The persisted run history (newest first), re-read whenever a run ends. */
export function useRunHistory(limit = 500): RunSummary[] {
  const client = useClient();
  const [runs, setRuns] = useState<RunSummary[]>([]);
  // A history that cannot be read leaves this window's own runs to speak: the Hosts page still works.
  const load = useCallback(
    () => void client.invoke('runs.list', { limit }).then(setRuns, () => undefined),
    [client, limit],
  );
  useEffect(load, [load]);
  useEvent('backup.finished', load);
  useEvent('runs.finished', load);
  return runs;
}
