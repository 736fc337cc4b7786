import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { HostSummary } from '../../../../src-shared/contract/hosts';
import type { Inventory } from '../../../../src-shared/contract/inventory';
import type { RemoteSummary } from '../../../../src-shared/contract/remotes';
import type { Job, JobInput } from '../../../../src-shared/contract/jobs';
import { IpcCallError } from '../../../../src-shared/contract/errors';
import { useClient } from '../../client/client-context';
import { issueAt, type Issue } from '../../shared/ui/field-issues';
import { jobInputFromForm, type JobForm } from './job-form-model';
import { ErrorMessage } from '../../shared/ui/ErrorMessage';
import { FieldIssue } from '../../shared/ui/FieldIssue';
import { ScheduleEditor } from './ScheduleEditor';
import { currentIssues, formIssues } from './job-form-checks';
import { VmPicker } from './VmPicker';
import { poolName } from '../../shared/data/pool-name';

/** The paths the form has a field for: an engine issue elsewhere is shown at the bottom. */
const FIELD_PATHS = [
  'name',
  'hostId',
  'mirrorFrom',
  'vms',
  'mode',
  'remoteIds',
  'schedules',
  'compression',
  'vmConcurrency',
  'diskConcurrency',
  'speedLimitBytesPerSec',
  'fullInterval',
  'missedRuns',
];
const atAField = (i: Issue) => FIELD_PATHS.some((k) => i.path === k || i.path.startsWith(`${k}.`));

/**
 * Create or edit a job. Every problem the form can see itself is shown at once, each at its field, before
 * anything is sent; the engine validates again (jobs.save) and its refusals come back per field too. Only
 * what belongs to no field is shown at the bottom, by the summary and the buttons.
 */
export function JobFormView({
  initial,
  hosts,
  inventories,
  remotes,
  onSaved,
  onCancel,
}: {
  initial: JobForm;
  hosts: HostSummary[];
  inventories: Record<string, Inventory | null>;
  remotes: RemoteSummary[];
  onSaved: (job: Job) => void;
  onCancel: () => void;
}) {
  const client = useClient();
  const [f, setF] = useState<JobForm>(initial);
  // The last refused save: from then on the fields' issues are re-checked as the admin types (job-form-checks).
  const [refused, setRefused] = useState<{ input: JobInput; issues: Issue[]; attempt: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const summary = useRef<HTMLParagraphElement>(null);
  const set = (patch: Partial<JobForm>) => setF((x) => ({ ...x, ...patch }));
  const issues = (refused ? currentIssues(jobInputFromForm(f), refused) : []).filter(atAField);
  const at = (path: string) => issueAt(issues, path);
  // The summary sits by the buttons; after a refusal it is scrolled into view, wherever the admin was.
  // (A block body: scrollIntoView returns a promise in recent Chromium, which React would call as a cleanup.)
  useEffect(() => {
    summary.current?.scrollIntoView({ block: 'nearest' });
  }, [refused?.attempt]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const input = jobInputFromForm(f);
    const attempt = (refused?.attempt ?? 0) + 1;
    setError(null);
    if (formIssues(input).length > 0) {
      setRefused({ input, issues: [], attempt });
      return;
    }
    setBusy(true);
    try {
      const saved = await client.invoke('jobs.save', input);
      setRefused(null);
      onSaved(saved);
    } catch (err) {
      const engine = err instanceof IpcCallError ? (err.detail.issues ?? []) : [];
      setRefused({ input, issues: engine, attempt });
      // Shown at the bottom only when no field carries it.
      const placed = engine.length > 0 && engine.every(atAField);
      setError(placed ? null : err);
    } finally {
      setBusy(false);
    }
  };

  const text = (
    key: keyof JobForm,
    label: string,
    path: string,
    extra: { inputMode?: 'numeric' | 'decimal'; placeholder?: string } = {},
  ) => (
    <label>
      {label}
      <input
        value={String(f[key] ?? '')}
        onChange={(e) => set({ [key]: e.target.value })}
        aria-invalid={at(path) ? true : undefined}
        aria-describedby={at(path) ? path : undefined}
        {...extra}
      />
      <FieldIssue id={path} message={at(path)} />
    </label>
  );

  return (
    <form
      onSubmit={(e) => void submit(e)}
      aria-label={f.id ? `Edit job ${initial.name}` : 'New job'}
      className="panel job-form"
      noValidate
    >
      <h2>{f.id ? `Edit “${initial.name}”` : 'New job'}</h2>
      <div className="form-grid">
        {text('name', 'Name', 'name')}
        <fieldset>
          <legend>Kind</legend>
          <label className="radio">
            <input
              type="radio"
              name="job-kind"
              checked={f.kind === 'backup'}
              onChange={() => set({ kind: 'backup' })}
            />{' '}
            Back up VMs of a pool
          </label>
          <label className="radio">
            <input
              type="radio"
              name="job-kind"
              checked={f.kind === 'mirror'}
              onChange={() => set({ kind: 'mirror', selection: 'pool', excludeVmUuids: [], compression: 'none' })}
            />{' '}
            Mirror a remote (copy its backups to other remotes, no host involved)
          </label>
        </fieldset>
        {f.kind === 'backup' ? (
          <label>
            Pool
            <select
              value={f.hostId}
              onChange={(e) => set({ hostId: e.target.value, vmUuids: [], tags: [], excludeVmUuids: [] })}
            >
              {hosts.map((h) => (
                <option key={h.id} value={h.id}>
                  {poolName(h, inventories[h.id])}
                </option>
              ))}
            </select>
            <FieldIssue id="hostId" message={at('hostId')} />
          </label>
        ) : (
          <label>
            Copy from
            <select
              value={f.mirrorFrom}
              aria-invalid={at('mirrorFrom') ? true : undefined}
              onChange={(e) =>
                set({ mirrorFrom: e.target.value, remoteIds: f.remoteIds.filter((x) => x !== e.target.value) })
              }
            >
              <option value="">Pick a remote…</option>
              {remotes.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
            <FieldIssue id="mirrorFrom" message={at('mirrorFrom')} />
          </label>
        )}
        <fieldset>
          <legend>Mode</legend>
          <label className="radio">
            <input type="radio" name="job-mode" checked={f.mode === 'delta'} onChange={() => set({ mode: 'delta' })} />{' '}
            {f.kind === 'mirror'
              ? 'Incremental points (VHD chains, only new deltas sent)'
              : 'Delta (VHD chains, only changes)'}
          </label>
          <label className="radio">
            <input type="radio" name="job-mode" checked={f.mode === 'full'} onChange={() => set({ mode: 'full' })} />{' '}
            {f.kind === 'mirror' ? 'Full points (XVAs)' : 'Full (an XVA per VM each run)'}
          </label>
        </fieldset>
        <fieldset aria-describedby={at('remoteIds') ? 'remoteIds' : undefined}>
          <legend>{f.kind === 'mirror' ? 'Copy to' : 'Remotes'}</legend>
          {remotes.length === 0 && <span className="muted">No remote yet: add one under Remotes.</span>}
          {remotes
            .filter((r) => f.kind !== 'mirror' || r.id !== f.mirrorFrom)
            .map((r) => (
              <label key={r.id} className="check">
                <input
                  type="checkbox"
                  checked={f.remoteIds.includes(r.id)}
                  onChange={(e) =>
                    set({
                      remoteIds: e.target.checked ? [...f.remoteIds, r.id] : f.remoteIds.filter((x) => x !== r.id),
                    })
                  }
                />
                {r.name} <span className="muted mono">{r.path}</span>
              </label>
            ))}
          <FieldIssue id="remoteIds" message={at('remoteIds')} />
        </fieldset>
      </div>
      {f.kind === 'backup' ? (
        <VmPicker inventory={inventories[f.hostId]} value={f} onChange={(s) => set(s)} issue={at('vms')} />
      ) : (
        <p className="muted" data-testid="mirror-vms">
          Every VM the source holds {f.mode === 'full' ? 'full' : 'incremental'} points of; each schedule's retention is
          what the targets keep (only those points are sent).
        </p>
      )}
      <ScheduleEditor schedules={f.schedules} onChange={(schedules) => set({ schedules })} issueAt={at} />
      <fieldset>
        <legend>Transfer</legend>
        <div className="form-grid">
          {f.kind === 'backup' && (
            <label>
              Compression (full mode, on the host)
              <select
                value={f.compression}
                onChange={(e) => set({ compression: e.target.value as JobForm['compression'] })}
              >
                <option value="none">none</option>
                <option value="zstd">zstd</option>
              </select>
            </label>
          )}
          {/* A mirror copies one point at a time, reading a remote: these are a host backup's limits. */}
          {f.kind === 'backup' && (
            <>
              {text('vmConcurrency', 'VMs at a time', 'vmConcurrency', { inputMode: 'numeric' })}
              {text('diskConcurrency', 'Disks at a time per VM', 'diskConcurrency', { inputMode: 'numeric' })}
              {text('speedLimitMiB', 'Speed limit (MiB/s, whole job)', 'speedLimitBytesPerSec', {
                inputMode: 'decimal',
                placeholder: 'the default of Settings',
              })}
              {text('fullInterval', 'Delta: a full every N points (0: never)', 'fullInterval', {
                inputMode: 'numeric',
              })}
            </>
          )}
          <label>
            A run missed while Sluice was closed
            <select value={f.missedRuns} onChange={(e) => set({ missedRuns: e.target.value as JobForm['missedRuns'] })}>
              <option value="report">report it</option>
              <option value="run-at-start">run it at start</option>
            </select>
          </label>
          <label className="check">
            <input type="checkbox" checked={f.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Job
            enabled (its schedules run)
          </label>
        </div>
      </fieldset>
      <ErrorMessage error={error} title="Sluice did not save the job." />
      {issues.length > 0 && (
        <p className="error" role="alert" ref={summary} data-testid="job-form-summary">
          Sluice did not save the job: {issues.length === 1 ? 'one field needs' : `${issues.length} fields need`} a
          change (shown at {issues.length === 1 ? 'the field' : 'each field'}).
        </p>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" disabled={busy}>
          {f.id ? 'Save job' : 'Create job'}
        </button>
      </div>
    </form>
  );
}
