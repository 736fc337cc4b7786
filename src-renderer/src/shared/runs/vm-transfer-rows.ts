import type { BackupPhase } from '../../../../src-shared/contract/backup-phases.js';
import type { TransferProgress } from '../../../../src-shared/contract/transfers.js';
import { TERMINAL, type Run } from './run-model.js';

/**
 * A VM's own sample when its disks report on their own: it carries the VM's phases (and a merge's bytes),
 * never the disks' transfer, so it is not added to the bytes, buffers or bottleneck.
 */
export function isVmCarrier(p: TransferProgress): boolean {
  return p.disk === null && (p.disks?.length ?? 0) > 0;
}

/** One disk of a VM whose disks report on their own; `latest` is null while it waits for its turn. */
export interface DiskRow {
  key: string;
  disk: { uuid: string; name: string };
  latest: TransferProgress | null;
  /**
   * What to show: its own phase once started; before, "waiting" (or "not started" once its VM ended), or
   * "skipped" when the VM said it is left out.
   */
  status: BackupPhase | 'waiting' | 'not started';
  attempt: number;
  bytesRead: number;
  bytesWritten: number;
  /** The count its total is the end of: bytes written, or read where the written bytes are not the work. */
  progressBytes: number;
  totalBytes: number | null;
  /** The total is an estimate (see TransferProgress.totalEstimate), or null: a length. */
  estimate: Estimate;
  /** 0..1, or null when its total is unknown. */
  fraction: number | null;
}

/** One VM of a run: the whole VM (one transfer), or the sum of its disks with a row per disk. */
export interface VmTransferRow {
  key: string;
  vm: TransferProgress['vm'];
  phase: BackupPhase;
  attempt: number;
  bytesRead: number;
  bytesWritten: number;
  /** The count the total is the end of (see DiskRow.progressBytes). */
  progressBytes: number;
  /** Known only when every disk's total is known (a waiting disk's from the VM's estimate): never a made-up 0. */
  totalBytes: number | null;
  estimate: Estimate;
  fraction: number | null;
  sourceRate: number;
  destinationRate: number;
  /** null: the VM is one transfer (a full backup's XVA, a restore, an export…). */
  disks: DiskRow[] | null;
  /** Disks left out (`[NOBAK]`): not counted in the VM's figures. */
  skippedDisks: number;
  /** The VM's merge (retention) while it runs: its own bytes, shown as that phase's progress. */
  merge: { bytesWritten: number; totalBytes: number | null } | null;
}

export type Estimate = NonNullable<TransferProgress['totalEstimate']> | null;

/** An estimated total is only ever approached: 100 % is for the end, which the phase says. */
const ESTIMATE_CAP = 0.99;

/** The count a sample's total is the end of. */
export function progressOf(p: TransferProgress): number {
  return p.totalOf === 'read' ? p.bytesRead : p.bytesWritten;
}

function fractionOf(phase: BackupPhase, done: number, total: number | null, estimate: Estimate = null): number | null {
  if (phase === 'done') return 1;
  if (total === null) return null;
  return total === 0 ? 1 : Math.min(estimate ? ESTIMATE_CAP : 1, done / total);
}

/** The fraction of a run not yet finished (see fractionOf): an estimate's stays below its end. */
export function runFraction(done: number, total: number | null, estimate: Estimate): number | null {
  return fractionOf('transfer', done, total, estimate);
}

/** A VM's phase from its disks alone (no sample of the VM itself): the newest running one, else how they ended. */
function phaseOfDisks(disks: DiskRow[]): BackupPhase {
  const started = disks.flatMap((d) => (d.latest ? [d.latest] : []));
  const running = started.filter((p) => !TERMINAL.has(p.phase)).sort((a, b) => (a.at < b.at ? 1 : -1));
  if (running[0]) return running[0].phase;
  if (started.some((p) => p.phase === 'failed')) return 'failed';
  if (started.some((p) => p.phase === 'cancelled')) return 'cancelled';
  if (disks.some((d) => !d.latest)) return 'transfer';
  return started.every((p) => p.phase === 'skipped') ? 'skipped' : 'done';
}

/** A VM's disk rows: the disks it named, in its order, then any it did not name (older engines, a restore of one disk). */
function diskRowsOf(vmUuid: string, own: TransferProgress | null, disks: Map<string, TransferProgress>): DiskRow[] {
  const planned = own?.disks ?? [];
  const order = [
    ...planned,
    ...[...disks.values()].filter((p) => !planned.some((d) => d.uuid === p.disk!.uuid)).map((p) => p.disk!),
  ];
  const vmEnded = own !== null && TERMINAL.has(own.phase);
  return order.map((d) => {
    const latest = disks.get(d.uuid) ?? null;
    const bytesWritten = latest?.bytesWritten ?? 0;
    const progressBytes = latest ? progressOf(latest) : 0;
    const named = planned.find((p) => p.uuid === d.uuid);
    const status: DiskRow['status'] = latest
      ? latest.phase
      : named?.skipped
        ? 'skipped'
        : vmEnded
          ? 'not started'
          : 'waiting';
    // A disk waiting its turn counts by the VM's estimate of it until its own sample gives the length.
    const waitingEstimate = status === 'waiting' ? (named?.estimatedBytes ?? null) : null;
    const totalBytes = latest ? latest.totalBytes : waitingEstimate;
    return {
      key: `${vmUuid}/${d.uuid}`,
      disk: latest?.disk ?? d,
      latest,
      status,
      attempt: latest?.attempt ?? 0,
      bytesRead: latest?.bytesRead ?? 0,
      bytesWritten,
      progressBytes,
      totalBytes,
      estimate: latest ? (latest.totalEstimate ?? null) : waitingEstimate !== null ? 'allocation' : null,
      fraction: latest
        ? fractionOf(latest.phase, progressBytes, totalBytes, latest.totalEstimate ?? null)
        : totalBytes === null
          ? null
          : 0,
    };
  });
}

/** The run per VM, in the order VMs first reported: a VM's figures are the sum of its disks when they report apart. */
export function vmRows(run: Run): VmTransferRow[] {
  const byVm = new Map<string, { own: TransferProgress | null; disks: Map<string, TransferProgress> }>();
  for (const { latest: p } of run.items.values()) {
    let entry = byVm.get(p.vm.uuid);
    if (!entry) byVm.set(p.vm.uuid, (entry = { own: null, disks: new Map() }));
    if (p.disk) entry.disks.set(p.disk.uuid, p);
    else entry.own = p;
  }
  const rows: VmTransferRow[] = [];
  for (const [vmUuid, { own, disks }] of byVm) {
    const vm = own?.vm ?? [...disks.values()][0]!.vm;
    if (disks.size === 0 && own && !isVmCarrier(own)) {
      rows.push({
        key: vmUuid,
        vm,
        phase: own.phase,
        attempt: own.attempt,
        bytesRead: own.bytesRead,
        bytesWritten: own.bytesWritten,
        progressBytes: progressOf(own),
        totalBytes: own.totalBytes,
        estimate: own.totalEstimate ?? null,
        fraction: fractionOf(own.phase, progressOf(own), own.totalBytes, own.totalEstimate ?? null),
        sourceRate: TERMINAL.has(own.phase) ? 0 : own.sourceRate,
        destinationRate: TERMINAL.has(own.phase) ? 0 : own.destinationRate,
        disks: null,
        skippedDisks: 0,
        merge: null,
      });
      continue;
    }
    const diskRows = diskRowsOf(vmUuid, own, disks);
    // A VM sample that does not name its disks is a transfer of its own (an engine that reported both ways): it adds up too.
    const ownPart =
      own && !isVmCarrier(own)
        ? [
            {
              latest: own,
              status: own.phase,
              bytesRead: own.bytesRead,
              bytesWritten: own.bytesWritten,
              progressBytes: progressOf(own),
              totalBytes: own.totalBytes,
              estimate: own.totalEstimate ?? null,
            },
          ]
        : [];
    const counted = [...diskRows, ...ownPart].filter((d) => d.status !== 'skipped');
    const totalKnown = counted.every((d) => d.totalBytes !== null);
    const totalBytes = totalKnown ? counted.reduce((n, d) => n + d.totalBytes!, 0) : null;
    const bytesWritten = counted.reduce((n, d) => n + d.bytesWritten, 0);
    const progressBytes = counted.reduce((n, d) => n + d.progressBytes, 0);
    const estimate: Estimate = counted.some((d) => d.estimate === 'exceeded')
      ? 'exceeded'
      : counted.some((d) => d.estimate === 'allocation')
        ? 'allocation'
        : null;
    const live = counted.flatMap((d) => (d.latest && !TERMINAL.has(d.latest.phase) ? [d.latest] : []));
    const phase = own ? own.phase : phaseOfDisks(diskRows);
    rows.push({
      key: vmUuid,
      vm,
      phase,
      attempt: Math.max(1, ...diskRows.map((d) => d.attempt)),
      bytesRead: counted.reduce((n, d) => n + d.bytesRead, 0),
      bytesWritten,
      progressBytes,
      totalBytes,
      estimate,
      fraction: fractionOf(phase, progressBytes, totalBytes, estimate),
      sourceRate: live.reduce((n, p) => n + p.sourceRate, 0),
      destinationRate: live.reduce((n, p) => n + p.destinationRate, 0),
      disks: diskRows,
      skippedDisks: diskRows.filter((d) => d.status === 'skipped').length,
      merge: own && own.phase === 'merge' ? { bytesWritten: own.bytesWritten, totalBytes: own.totalBytes } : null,
    });
  }
  return rows;
}
