import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useClient } from '../../client/client-context';
import { describeOperation, resultFromOperation, resultFromRunSummary } from './run-results';
import { RunStore } from './run-store';

const RunStoreContext = createContext<RunStore | null>(null);

/** One store of runs for the whole window, fed from the moment the UI starts, whatever page is open. */
export function RunsProvider({ children }: { children: ReactNode }) {
  const client = useClient();
  const [store] = useState(() => new RunStore());
  useEffect(() => {
    const offs = [
      client.on('backup.progress', (p) => store.progress(p)),
      client.on('backup.finished', (r) => store.finished(r)),
      client.on('engine.log', (e) => store.log(e)),
      client.on('runs.started', (r) =>
        store.started(r.runId, {
          label: `Job ${r.jobName}`,
          vms: r.vms.map((v) => ({ uuid: v.vmUuid, name: v.vmName })),
          mode: r.mode,
          // A mirror job's run copies between remotes; it is cancelled as any job's run.
          kind: r.mirrorFrom ? 'mirror' : 'job',
          remoteName: r.remotes.map((x) => x.name).join(', '),
        }),
      ),
      client.on('runs.finished', (r) => {
        // Missed or skipped runs never started: only runs this window saw get a card.
        if (store.get(r.runId)) store.finished(resultFromRunSummary(r));
      }),
      client.on('operations.finished', (f) => {
        const run = store.get(f.operationId);
        store.started(f.operationId, {
          ...(run?.info ?? { label: `${f.kind} of ${f.vm.name}`, vms: [f.vm] }),
          kind: f.kind,
          outcome: describeOperation(f),
        });
        store.finished(resultFromOperation(f));
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [client, store]);
  return <RunStoreContext.Provider value={store}>{children}</RunStoreContext.Provider>;
}

/** Cards inside read `store` instead of the window's: runs rebuilt from the history, for one. */
export function RunStoreScope({ store, children }: { store: RunStore; children: ReactNode }) {
  return <RunStoreContext.Provider value={store}>{children}</RunStoreContext.Provider>;
}

export function useRunStore(): RunStore {
  const s = useContext(RunStoreContext);
  if (!s) throw new Error('useRunStore outside RunsProvider');
  return s;
}

/**
 * Re-renders at most every `intervalMs` while the store changes: text and numbers need a few updates a second,
 * not one per event (the graph draws on its own, per animation frame).
 */
export function useStoreVersion(store: RunStore, intervalMs = 250): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastRender = 0;
    const flush = () => {
      timer = undefined;
      lastRender = performance.now();
      setVersion(store.version);
    };
    const off = store.subscribe(() => {
      if (timer) return;
      timer = setTimeout(flush, Math.max(0, intervalMs - (performance.now() - lastRender)));
    });
    setVersion(store.version);
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [store, intervalMs]);
  return version;
}
