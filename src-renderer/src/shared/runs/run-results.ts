import type { BackupRunResult } from '../../../../src-shared/contract/backups.js';
import type { OperationFinished } from '../../../../src-shared/contract/points.js';
import type { TransferProgress } from '../../../../src-shared/contract/transfers.js';
import type { RunRecord, RunSummary } from '../../../../src-shared/contract/runs.js';
import { RunStore } from './run-store.js';

// Job runs (runs.finished) and point operations (operations.finished) end in their own shapes; the Transfers
// cards read one shape, so these translate. The history's graph is rebuilt from a run's stored samples.

export function resultFromRunSummary(r: RunSummary): BackupRunResult {
  const vms: BackupRunResult['vms'] = r.vms.map((v) => ({
    vmUuid: v.vmUuid,
    vmName: v.vmName,
    ok: v.status === 'success',
    pointId: v.pointId,
    bytes: v.bytes,
    attempts: v.attempts,
    error: v.error
      ? { code: v.error.code, message: v.error.message, ...(v.error.hint ? { hint: v.error.hint } : {}) }
      : v.status === 'cancelled'
        ? { code: 'CANCELLED', message: 'Cancelled.' }
        : null,
  }));
  // Errors of the run itself (no VM): a pool that could not be reached, a remote missing…
  for (const e of r.errors)
    vms.push({
      vmUuid: '',
      vmName: '',
      ok: false,
      pointId: null,
      bytes: 0,
      attempts: 0,
      error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) },
    });
  return {
    runId: r.runId,
    ok: r.status === 'success',
    cancelled: r.status === 'cancelled',
    vms,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt ?? new Date().toISOString(),
  };
}

const kindWords: Record<OperationFinished['kind'], string> = {
  restore: 'restored',
  export: 'exported',
  verify: 'verified',
  delete: 'deleted',
};

export function resultFromOperation(f: OperationFinished): BackupRunResult {
  const bytes =
    !f.result || f.result.kind === 'delete'
      ? 0
      : f.result.kind === 'export'
        ? f.result.files.reduce((n, x) => n + x.bytes, 0)
        : f.result.bytes;
  return {
    runId: f.operationId,
    ok: f.ok,
    cancelled: f.cancelled,
    vms: [{ vmUuid: f.vm.uuid, vmName: f.vm.name, ok: f.ok, pointId: f.pointId, bytes, attempts: 1, error: f.error }],
    startedAt: f.startedAt,
    finishedAt: f.finishedAt,
  };
}

/** What an operation did, in one sentence. */
export function describeOperation(f: OperationFinished): string {
  if (!f.ok)
    return f.cancelled
      ? `The ${f.kind} of ${f.vm.name} ${f.pointId} was cancelled.`
      : `The ${f.kind} of ${f.vm.name} ${f.pointId} failed: ${f.error?.message ?? 'unknown error'}`;
  const r = f.result!;
  if (r.kind === 'restore')
    return `${f.vm.name} ${f.pointId} ${kindWords.restore} as "${r.name}" (${r.vmUuid}), ${r.disks} disk(s)${r.started ? ', started' : ''}.`;
  if (r.kind === 'restore-disk') {
    return `Disk ${r.position} “${r.diskName}” of ${f.vm.name} ${f.pointId} ${kindWords.restore} as the new disk “${r.name}” (VDI ${r.vdiUuid}) on the SR “${r.srName}” (${r.srUuid}). It is attached to no VM: attach it where it is needed.`;
  }
  if (r.kind === 'export')
    return `${f.vm.name} ${f.pointId} ${kindWords.export} to ${r.files.map((x) => x.path).join(', ')}.`;
  if (r.kind === 'delete') {
    return r.mode === 'delta'
      ? `${f.vm.name} ${f.pointId} ${kindWords.delete}: ${r.merged} disk file(s) merged into the next point, ${r.removed} removed; the remaining points stay restorable.`
      : `${f.vm.name} ${f.pointId} ${kindWords.delete} (its XVA, checksum and metadata).`;
  }
  return `${f.vm.name} ${f.pointId} ${kindWords.verify}: every checksum matches${r.structureOnly.length ? ` (${r.structureOnly.length} file(s) checked for structure only)` : ''}.`;
}

/**
 * A store holding one finished run rebuilt from its samples, so the live graph component draws history too.
 * A transfer's last sample is followed by a stop, so a finished disk stops counting in the sum.
 */
export function storeFromRecord(record: RunRecord): RunStore {
  const store = new RunStore({ capacity: Math.max(16, record.samples.length * 2 + 4), stepMs: 0 });
  addRecordTo(store, record);
  return store;
}

/** Replays one finished run from its record into `store`, next to the runs already there. */
export function addRecordTo(store: RunStore, record: RunRecord): void {
  const start = Date.parse(record.startedAt);
  const names = new Map(record.vms.map((v) => [v.vmUuid, v.vmName]));
  const diskNames = new Map(record.vms.flatMap((v) => v.disks.map((d) => [d.uuid ?? '', d.name] as const)));
  const lastIndex = new Map<string, number>();
  record.samples.forEach((s, i) => lastIndex.set(`${s.vmUuid}/${s.diskUuid ?? ''}`, i));
  const sorted = record.samples.map((s, i) => ({ s, i })).sort((a, b) => a.s.t - b.s.t);
  for (const { s, i } of sorted) {
    const base: TransferProgress = {
      runId: record.runId,
      vm: { uuid: s.vmUuid, name: names.get(s.vmUuid) ?? s.vmUuid },
      disk: s.diskUuid ? { uuid: s.diskUuid, name: diskNames.get(s.diskUuid) ?? s.diskUuid } : null,
      // Older records kept no phase and no buffer: a transfer with an empty buffer is all they can say.
      phase: s.phase ?? 'transfer',
      attempt: 1,
      bytesRead: s.bytesWritten,
      bytesWritten: s.bytesWritten,
      totalBytes: null,
      sourceRate: s.sourceRate,
      destinationRate: s.destinationRate,
      memoryBytes: s.memoryBytes ?? 0,
      spoolBytes: s.spoolBytes ?? 0,
      spoolCapBytes: s.spoolCapBytes ?? 0,
      bottleneck: 'unknown',
      etaSeconds: null,
      elapsedMs: s.t,
      at: new Date(start + s.t).toISOString(),
    };
    store.progress(base);
    if (lastIndex.get(`${s.vmUuid}/${s.diskUuid ?? ''}`) === i)
      store.progress({
        ...base,
        phase: 'done',
        sourceRate: 0,
        destinationRate: 0,
        at: new Date(start + s.t + 1).toISOString(),
      });
  }
  if (record.finishedAt) store.finished(resultFromRunSummary(record));
}
