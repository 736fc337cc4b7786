import { useState } from 'react';
import { useRunStore } from './runs-context';
import { useClient } from '../../client/client-context';
import { ConfirmDialog } from '../ui/Dialog';
import { ErrorMessage } from '../ui/ErrorMessage';
import { ProgressBar } from '../ui/ProgressBar';
import { TransferGraph } from './TransferGraph';
import { formatBytes } from '../../../../src-shared/units';
import { phaseWords, summarise, type RunState } from './live-run-status';
import { cardParts, RunStats, totalText } from './RunStats';
import type { Run, RunStartInfo } from './run-model';
import { vmRows, type DiskRow, type VmTransferRow } from './vm-transfer-rows';

const stateBadge: Record<RunState, [string, string]> = {
  running: ['Running', 'info'],
  cancelling: ['Cancelling', 'warn'],
  done: ['Finished', 'ok'],
  failed: ['Failed', 'bad'],
  cancelled: ['Cancelled', 'warn'],
};

export function runLabel(run: Run): string {
  if (run.info) return run.info.label;
  const names = [...new Set([...run.items.values()].map((i) => i.vm.name))];
  return names.length ? `Backup of ${names.join(', ')}` : `Run ${run.runId.slice(0, 8)}`;
}

function operationWord(run: Run): string {
  const kind = run.info?.kind ?? 'backup';
  return kind === 'job' || kind === 'backup' ? 'backup' : kind;
}

export function RunCard({ run }: { run: Run }) {
  const client = useClient();
  const store = useRunStore();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const s = summarise(run);
  const label = runLabel(run);
  const [badge, tone] = stateBadge[s.state];
  const endMs = run.result ? Date.parse(run.result.finishedAt) : Date.now();
  const startMs = run.result ? Date.parse(run.result.startedAt) : run.firstSeen;
  const rows = vmRows(run);
  const what = operationWord(run);
  const parts = cardParts(run.info?.kind);

  const cancel = async () => {
    setError(null);
    store.cancelRequested(run.runId);
    try {
      const kind = run.info?.kind ?? 'backup';
      const r =
        kind === 'job' || kind === 'mirror'
          ? await client.invoke('runs.cancel', { runId: run.runId })
          : kind === 'backup'
            ? await client.invoke('backup.cancel', { runId: run.runId })
            : await client.invoke('operations.cancel', { operationId: run.runId });
      if (!r.cancelled && !run.result)
        setError({
          message: 'The engine no longer runs this backup.',
          hint: 'It has probably just finished; its result appears here in a moment.',
        });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <article className="run-card" aria-label={label} data-run-id={run.runId} data-state={s.state}>
      <div className="run-head">
        <h2>{label}</h2>
        <span className={`badge ${tone}`} data-testid="run-state">
          {badge}
        </span>
        {run.info?.remoteName && <span className="muted">to {run.info.remoteName}</span>}
        {run.info?.mode && <span className="muted">({run.info.mode})</span>}
        <div className="actions">
          {s.state === 'running' && (
            <button type="button" className="secondary" onClick={() => setConfirming(true)}>
              Cancel {what}
            </button>
          )}
        </div>
      </div>
      <p data-testid="run-phase" aria-live="polite">
        <span className="badge">{s.phase}</span> {phaseWords(s.phase, run.info?.kind)}
      </p>
      <ProgressBar
        fraction={s.state === 'done' ? 1 : s.fraction}
        label={`Overall progress of ${label}`}
        state={s.state === 'done' ? 'done' : s.state === 'failed' ? 'failed' : ended(s.state) ? 'stopped' : undefined}
      />
      <RunStats
        kind={run.info?.kind}
        mode={run.info?.mode}
        s={s}
        elapsedSeconds={Math.max(0, Math.round((endMs - startMs) / 1000))}
      />
      {parts.bottleneck && (
        <div
          className={`bottleneck ${s.bottleneck.verdict}`}
          data-testid="bottleneck"
          data-verdict={s.bottleneck.verdict}
          data-stalled={s.bottleneck.stalled ?? ''}
        >
          <strong>Bottleneck:</strong> <span>{s.bottleneck.text}</span>
        </div>
      )}
      {parts.graph && (
        <TransferGraph
          store={store}
          runId={run.runId}
          label={`Live rates of ${label}: source, destination and buffered bytes`}
        />
      )}
      {rows.length > 0 && <TransferRows label={label} rows={rows} doneWord={doneWord(run.info?.kind)} />}
      <ErrorMessage error={error} />
      {run.result && <RunResult run={run} />}
      {run.log.length > 0 && (
        <details open={s.state !== 'running' && s.state !== 'done'}>
          <summary>Engine log of this run ({run.log.length})</summary>
          <ul className="run-log" aria-label={`Log of ${label}`}>
            {run.log.map((l, i) => (
              <li key={i} className={l.level}>
                <span className="muted num">{new Date(l.at).toLocaleTimeString()}</span> {l.message}
              </li>
            ))}
          </ul>
        </details>
      )}
      <ConfirmDialog
        title={`Cancel this ${what}?`}
        open={confirming}
        confirmLabel={`Cancel the ${what}`}
        cancelLabel="Keep it running"
        danger
        onConfirm={() => void cancel()}
        onClose={() => setConfirming(false)}
      >
        <p>
          {what === 'backup'
            ? 'Sluice stops the export on the host, closes the connection, deletes the partial files on the remote and removes the backup snapshot from the host. Existing backup points are not touched.'
            : what === 'restore'
              ? 'Sluice stops the import on the host and removes the VM and disks it had created. The backup point is not touched.'
              : `Sluice stops reading the backup point${what === 'export' ? ' and deletes the partial output file' : ''}. The backup point is not touched.`}
        </p>
      </ConfirmDialog>
    </article>
  );
}

/**
 * Per VM, then per disk when its disks go one by one: the VM's row is their sum (its total known only when
 * every disk's is), a disk not yet started waits in its own row (its VM names its disks once the snapshot is taken).
 */
function TransferRows({ label, rows, doneWord }: { label: string; rows: VmTransferRow[]; doneWord: string }) {
  return (
    <table aria-label={`Transfers of ${label}`} className="transfer-table">
      <thead>
        <tr>
          <th>VM</th>
          <th>Disk</th>
          <th>Phase</th>
          <th className="n">Attempt</th>
          <th className="n">{doneWord}</th>
          <th className="n">Total</th>
          <th>Progress</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <VmRows key={r.key} row={r} />
        ))}
      </tbody>
    </table>
  );
}

/** The count a row's total is the end of, by what the run does. */
function doneWord(kind: RunStartInfo['kind']): string {
  return kind === 'export' ? 'Read' : kind === 'verify' ? 'Checked' : kind === 'delete' ? 'Merged' : 'Written';
}

function ended(state: RunState): boolean {
  return state === 'failed' || state === 'cancelled';
}

/** A bar's look once its transfer is over: a skipped disk says so; one that never finished stops moving. */
function barState(status: string, vmEnded: boolean): 'done' | 'failed' | 'skipped' | 'stopped' | undefined {
  if (status === 'done' || status === 'failed' || status === 'skipped') return status;
  return status === 'cancelled' || status === 'not started' || vmEnded ? 'stopped' : undefined;
}

function disksWord(r: VmTransferRow): string {
  const n = r.disks!.length;
  const all = n === 1 ? '1 disk' : `all ${n} disks`;
  return r.skippedDisks > 0 ? `${n - r.skippedDisks} of ${n} disks, ${r.skippedDisks} skipped` : all;
}

function VmRows({ row: r }: { row: VmTransferRow }) {
  const merging = r.merge;
  const vmEnded = r.phase === 'done' || r.phase === 'failed' || r.phase === 'cancelled' || r.phase === 'skipped';
  return (
    <>
      <tr data-testid="vm-row" aria-label={r.disks ? `${r.vm.name}, all disks` : r.vm.name}>
        <td>{r.vm.name}</td>
        <td>{r.disks ? <span className="muted">{disksWord(r)}</span> : <span className="muted">whole VM</span>}</td>
        <td>
          <span className="badge">{r.phase}</span>
        </td>
        <td className="n">{r.attempt}</td>
        <td className="n">
          <span className="num" style={{ minWidth: '11ch' }}>
            {formatBytes(r.progressBytes)}
          </span>
        </td>
        <td className="n">{totalText(r.totalBytes, r.estimate)}</td>
        <td>
          {merging ? (
            <ProgressBar
              fraction={merging.totalBytes ? Math.min(1, merging.bytesWritten / merging.totalBytes) : null}
              label={`Merge progress of ${r.vm.name}`}
            />
          ) : (
            <ProgressBar fraction={r.fraction} label={`Progress of ${r.vm.name}`} state={barState(r.phase, vmEnded)} />
          )}
        </td>
      </tr>
      {r.disks?.map((d) => (
        <DiskRowView key={d.key} vm={r.vm.name} d={d} vmEnded={vmEnded} />
      ))}
    </>
  );
}

function DiskRowView({ vm, d, vmEnded }: { vm: string; d: DiskRow; vmEnded: boolean }) {
  return (
    <tr data-testid="disk-row" data-status={d.status} aria-label={`${vm} disk ${d.disk.name}`} className="disk-row">
      <td />
      <td>{d.disk.name}</td>
      <td>
        <span className={`badge${d.latest ? '' : ' waiting'}`}>{d.status}</span>
      </td>
      <td className="n">{d.attempt || '—'}</td>
      <td className="n">
        <span className="num" style={{ minWidth: '11ch' }}>
          {d.status === 'skipped' ? '—' : formatBytes(d.progressBytes)}
        </span>
      </td>
      <td className="n">{d.status === 'skipped' ? 'skipped' : totalText(d.totalBytes, d.estimate)}</td>
      <td>
        <ProgressBar
          fraction={d.fraction}
          label={`Progress of ${vm} ${d.disk.name}`}
          state={barState(d.status, vmEnded)}
        />
      </td>
    </tr>
  );
}

function RunResult({ run }: { run: Run }) {
  const r = run.result!;
  const what = operationWord(run);
  return (
    <div
      className={r.ok ? 'notice ok' : r.cancelled ? 'notice warning' : 'error'}
      role={r.ok ? 'status' : 'alert'}
      data-testid="run-result"
    >
      <strong>
        {r.ok ? `The ${what} finished.` : r.cancelled ? `The ${what} was cancelled.` : `The ${what} failed.`}
      </strong>
      {run.info?.outcome ? (
        <div data-testid="operation-outcome">
          {run.info.outcome}
          {r.vms[0]?.error?.hint && <div className="hint">{r.vms[0].error.hint}</div>}
        </div>
      ) : (
        <ul>
          {r.vms.map((v, i) => (
            <li key={v.vmUuid || i}>
              {v.vmName ? `${v.vmName}: ` : ''}
              {v.ok
                ? run.info?.kind === 'mirror'
                  ? `copied, ${formatBytes(v.bytes)} (newest point ${v.pointId}).`
                  : `backed up, ${formatBytes(v.bytes)}${v.attempts > 1 ? ` after ${v.attempts} attempts` : ''} (point ${v.pointId}).`
                : v.error?.message}
              {v.error?.hint && <div className="hint">{v.error.hint}</div>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
