import { RunCard } from '../../shared/runs/RunCard';
import { useRunStore, useStoreVersion } from '../../shared/runs/runs-context';

/** Every run this window has seen, the running ones first. */
export function TransfersPage() {
  const store = useRunStore();
  useStoreVersion(store);
  const runs = store.runs();
  const active = runs.filter((r) => !r.result);
  const ended = runs.filter((r) => r.result);
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title">Transfers</h1>
      {runs.length === 0 && (
        <p className="muted">
          No transfer this session. Start one with “Back up now” on a VM under Hosts; scheduled runs appear here too.
        </p>
      )}
      {active.length > 0 && (
        <section aria-label="Running">
          {active.map((r) => (
            <RunCard key={r.runId} run={r} />
          ))}
        </section>
      )}
      {ended.length > 0 && (
        <section aria-label="Finished this session">
          <h2>Finished this session</h2>
          {ended.map((r) => (
            <RunCard key={r.runId} run={r} />
          ))}
        </section>
      )}
    </section>
  );
}
