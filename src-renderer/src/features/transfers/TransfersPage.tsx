import { RunCard } from '../../shared/runs/RunCard';
import { RunStoreScope, useRunStore, useStoreVersion } from '../../shared/runs/runs-context';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { usePastRuns } from './use-past-runs';

/** Every run this window has seen, the running ones first, then the history's ended runs (they outlive a reload). */
export function TransfersPage() {
  const store = useRunStore();
  useStoreVersion(store);
  const past = usePastRuns();
  const runs = store.runs();
  const active = runs.filter((r) => !r.result);
  const ended = runs.filter((r) => r.result);
  const earlier = past.store ? past.store.runs().filter((r) => !store.get(r.runId)) : [];
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Transfers</h1>
      {runs.length === 0 && earlier.length === 0 && past.store && (
        <p className="muted">
          No transfer yet. Start one with “Back up now” on a VM under Hosts; scheduled runs appear here too.
        </p>
      )}
      {active.length > 0 && (
        <section aria-label="Running">
          {active.map((r) => (
            <RunCard key={r.runId} run={r} />
          ))}
        </section>
      )}
      {(ended.length > 0 || earlier.length > 0) && (
        <section aria-label="Finished">
          <h2>Finished</h2>
          {ended.map((r) => (
            <RunCard key={r.runId} run={r} />
          ))}
          {past.store && (
            <RunStoreScope store={past.store}>
              {earlier.map((r) => (
                <RunCard key={r.runId} run={r} />
              ))}
            </RunStoreScope>
          )}
        </section>
      )}
      <ErrorMessage error={past.error} title="Sluice cannot read the run history: earlier runs are not shown." />
    </section>
  );
}
