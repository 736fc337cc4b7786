import type { BackupPhase } from '../../../../src-shared/contract/backup-phases.js';
import type { TransferProgress } from '../../../../src-shared/contract/transfers.js';
import { flowEnds, readBottleneck, type BottleneckReading, type Verdict } from './bottleneck.js';
import { estimateEta, type DonePoint, type EtaReading } from './eta.js';
import { COL, TERMINAL, type Run, type RunStartInfo } from './run-model.js';
import { isVmCarrier, runFraction, vmRows, type Estimate } from './vm-transfer-rows.js';

export type RunState = 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';

/** A run as it stands now, read from its live samples (the engine's RunSummary is what its history keeps). */
export interface LiveRunStatus {
  state: RunState;
  phase: BackupPhase | 'cancelling';
  /** The count the total is the end of: bytes written, or read for a verify or an export's disks. */
  bytesDone: number;
  bytesRead: number;
  bytesWritten: number;
  totalBytes: number | null;
  /** The total is an estimate (from the disks' allocation), or one the stream went past; null: a length. */
  estimate: Estimate;
  /** 0..1, or null when the total is not known: never a fake 0 %; an estimate's stays below 100 %. */
  fraction: number | null;
  eta: EtaReading;
  bottleneck: BottleneckReading;
  sourceRate: number;
  destinationRate: number;
  bufferedBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
}

export interface Aggregate {
  sourceRate: number;
  destinationRate: number;
  bufferedBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
  bytesDone: number;
  bytesRead: number;
  bytesWritten: number;
  verdict: Verdict;
}

/** The run as one flow: the sum of its live transfers (parallel disks or VMs add up, as on the wire). */
export function aggregate(run: Run): Aggregate {
  const a: Aggregate = {
    sourceRate: 0,
    destinationRate: 0,
    bufferedBytes: 0,
    spoolBytes: 0,
    spoolCapBytes: 0,
    bytesDone: 0,
    bytesRead: 0,
    bytesWritten: 0,
    verdict: 'unknown',
  };
  const live: TransferProgress[] = [];
  for (const row of vmRows(run)) {
    a.bytesDone += row.progressBytes;
    a.bytesRead += row.bytesRead;
    a.bytesWritten += row.bytesWritten;
  }
  for (const { latest: p } of run.items.values()) {
    if (TERMINAL.has(p.phase)) continue;
    if (isVmCarrier(p)) {
      // Only a merge moves bytes of its own on the VM's sample: its rates show that it is working.
      a.sourceRate += p.sourceRate;
      a.destinationRate += p.destinationRate;
      continue;
    }
    a.sourceRate += p.sourceRate;
    a.destinationRate += p.destinationRate;
    a.bufferedBytes += p.memoryBytes + p.spoolBytes;
    a.spoolBytes += p.spoolBytes;
    a.spoolCapBytes += p.spoolCapBytes;
    live.push(p);
  }
  a.verdict = readBottleneck(live).verdict;
  return a;
}

/** The latest sample of each of the run's transfers still moving bytes (not a VM's own sample over its disks). */
function liveTransfers(run: Run): TransferProgress[] {
  return [...run.items.values()].map((i) => i.latest).filter((p) => !TERMINAL.has(p.phase) && !isVmCarrier(p));
}

/** The run's total, when it can be known: every VM of the run has reported and each knows its size. */
function knownTotal(run: Run): number | null {
  const rows = vmRows(run);
  if (rows.length === 0) return null;
  if (run.info && run.info.vms.some((vm) => !rows.some((r) => r.vm.uuid === vm.uuid))) return null;
  let total = 0;
  for (const r of rows) {
    if (r.phase === 'skipped') continue;
    if (r.totalBytes === null) return null;
    total += r.totalBytes;
  }
  return total;
}

function runPhase(run: Run): BackupPhase {
  let newest: TransferProgress | undefined;
  for (const { latest } of run.items.values()) {
    if (!TERMINAL.has(latest.phase) && (!newest || latest.at >= newest.at)) newest = latest;
  }
  if (newest) return newest.phase;
  const items = [...run.items.values()];
  if (items.length === 0 || run.info?.vms.some((vm) => !items.some((i) => i.vm.uuid === vm.uuid))) return 'queued';
  // Every transfer has ended and the run's result is on its way: say how they ended, not "transfer".
  const ended = items.map((i) => i.latest.phase);
  return ended.includes('failed') ? 'failed' : ended.includes('cancelled') ? 'cancelled' : 'done';
}

export function summarise(run: Run, tailMs = 30_000): LiveRunStatus {
  const h = run.history;
  const n = h.length;
  const done: DonePoint[] = [];
  const newestT = n > 0 ? h.get(n - 1, COL.t) : 0;
  for (let i = 0; i < n; i++) {
    const t = h.get(i, COL.t);
    if (t < newestT - tailMs) continue;
    done.push({ t, done: h.get(i, COL.done) });
  }
  const a = aggregate(run);
  const total = knownTotal(run);
  const estimates = vmRows(run).map((r) => r.estimate);
  const estimate: Estimate = estimates.includes('exceeded')
    ? 'exceeded'
    : estimates.includes('allocation')
      ? 'allocation'
      : null;
  const state: RunState = run.result
    ? run.result.cancelled
      ? 'cancelled'
      : run.result.ok
        ? 'done'
        : 'failed'
    : run.cancelRequested
      ? 'cancelling'
      : 'running';
  const phase = run.result
    ? state === 'done'
      ? 'done'
      : state === 'cancelled'
        ? 'cancelled'
        : 'failed'
    : run.cancelRequested
      ? 'cancelling'
      : runPhase(run);
  const transferring = !run.result && !run.cancelRequested && phase === 'transfer';
  // A verify's work is its "verify" phase, a delete's its merge: their ETA is measured there.
  const kind = run.info?.kind;
  const working =
    transferring ||
    (!run.result &&
      !run.cancelRequested &&
      ((kind === 'verify' && phase === 'verify') || (kind === 'delete' && phase === 'merge')));
  return {
    state,
    phase,
    bytesDone: a.bytesDone,
    bytesRead: a.bytesRead,
    bytesWritten: a.bytesWritten,
    totalBytes: total,
    estimate,
    fraction: runFraction(a.bytesDone, total, estimate),
    eta: working
      ? estimate === 'allocation' && total !== null && a.bytesDone >= total
        ? { seconds: null, reason: 'unknown-total' } // reached an estimate, not the end
        : estimateEta(done, total)
      : total === null
        ? { seconds: null, reason: 'unknown-total' }
        : { seconds: null, reason: 'too-early' },
    bottleneck: transferring
      ? readBottleneck(liveTransfers(run), flowEnds(run.info?.kind))
      : { verdict: 'unknown', stalled: null, stalledForMs: 0, text: phaseWords(phase, run.info?.kind) },
    sourceRate: a.sourceRate,
    destinationRate: a.destinationRate,
    bufferedBytes: a.bufferedBytes,
    spoolBytes: a.spoolBytes,
    spoolCapBytes: a.spoolCapBytes,
  };
}

/** What each phase means, for the line under a run's title: a restore's or export's phases say what those do. */
export function phaseWords(phase: BackupPhase | 'cancelling', kind: RunStartInfo['kind'] = 'backup'): string {
  const toHost = kind === 'restore';
  const fromRepository = kind === 'restore' || kind === 'export' || kind === 'verify';
  switch (phase) {
    case 'queued':
      return 'Waiting to start.';
    case 'snapshot':
      return 'Taking a snapshot on the host.';
    case 'transfer':
      if (toHost) return 'Sending the backup to the host.';
      if (kind === 'export') return 'Writing the exported file.';
      if (kind === 'verify') return 'Reading the backup and checking it.';
      if (kind === 'mirror') return 'Copying the backup to the other remote.';
      return 'Copying data from the host.';
    case 'verify':
      return fromRepository ? 'Checking the backup’s files before using them.' : 'Checking what was written.';
    case 'commit':
      if (toHost) return 'Finishing on the host: placing disks, naming and starting the VM.';
      if (kind === 'export') return 'Finishing the exported file.';
      return 'Writing the backup point’s metadata.';
    case 'merge':
      return 'Merging older points into the chain (retention).';
    case 'cleanup':
      return 'Removing the snapshot from the host.';
    case 'cancelling':
      if (toHost) return 'Cancelling: stopping the host’s import and removing what it created…';
      return 'Cancelling: stopping the host’s task, removing temporary files and the snapshot…';
    case 'done':
      return 'Finished.';
    case 'failed':
      return 'Failed.';
    case 'cancelled':
      return 'Cancelled.';
    case 'skipped':
      return 'Skipped.';
  }
}
