import type { BackupPhase } from '../../../src-shared/contract/backup-phases.js';
import type { BackupRunResult } from '../../../src-shared/contract/backups.js';
import type { EventPayload } from '../../../src-shared/contract/index.js';
import type { TransferProgress } from '../../../src-shared/contract/transfers.js';
import { flowEnds, readBottleneck, type BottleneckReading, type FlowSample, type Verdict } from './bottleneck.js';
import { estimateEta, type DonePoint, type EtaReading } from './eta.js';
import { RingBuffer } from './ring-buffer.js';

/**
 * Every run this window has seen, built from the engine's events alone (backup.progress, backup.finished,
 * engine.log), so a run started by a schedule or another window shows up the same as one started here.
 * Framework-free: views subscribe and redraw on their own clock, so 40 samples a second never means 40
 * React renders a second.
 */

export const COL = { t: 0, source: 1, destination: 2, buffered: 3, spool: 4, done: 5, verdict: 6 } as const;
const WIDTH = 7;
const VERDICTS: Verdict[] = ['unknown', 'source', 'destination', 'balanced'];
const TERMINAL: ReadonlySet<BackupPhase> = new Set(['done', 'failed', 'cancelled', 'skipped']);
const LOG_LINES = 40;

export interface RunItem {
  key: string;
  vm: TransferProgress['vm'];
  disk: TransferProgress['disk'];
  latest: TransferProgress;
}

export interface RunLogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface RunStartInfo {
  label: string;
  vms: Array<{ uuid: string; name: string }>;
  remoteName?: string;
  mode?: string;
  /** The limit this run was started with (null: none), so the graph does not blame the host for it. */
  speedLimitBytesPerSec?: number | null;
  /** What the run is: it decides which channel cancels it and how its result reads (default: backup). */
  kind?: 'backup' | 'job' | 'restore' | 'export' | 'verify' | 'delete';
  /** An operation's outcome in one sentence (operations.finished). */
  outcome?: string;
}

export interface Run {
  runId: string;
  info: RunStartInfo | null;
  firstSeen: number;
  items: Map<string, RunItem>;
  history: RingBuffer;
  cancelRequested: boolean;
  result: BackupRunResult | null;
  log: RunLogLine[];
  /** Bumped whenever this run changes, so its graph redraws for its own samples only. */
  version: number;
}

export type RunState = 'running' | 'cancelling' | 'done' | 'failed' | 'cancelled';

/** A run as it stands now, read from its live samples (the engine's RunSummary is what its history keeps). */
export interface LiveRunStatus {
  state: RunState;
  phase: BackupPhase | 'cancelling';
  bytesDone: number;
  totalBytes: number | null;
  /** 0..1, or null when the total is not known: never a fake 0 %. */
  fraction: number | null;
  eta: EtaReading;
  bottleneck: BottleneckReading;
  sourceRate: number;
  destinationRate: number;
  bufferedBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
}

export interface RunStoreOptions {
  /** Graph points kept per run (default 2400: 10 min at 4 points a second). */
  capacity?: number;
  /** Samples closer than this share one graph point (default 200 ms). */
  stepMs?: number;
}

function itemKey(p: { vm: { uuid: string }; disk: { uuid: string } | null }): string {
  return `${p.vm.uuid}/${p.disk?.uuid ?? ''}`;
}

export class RunStore {
  private readonly runsById = new Map<string, Run>();
  private readonly listeners = new Set<() => void>();
  private readonly capacity: number;
  private readonly stepMs: number;
  /** Bumped on every change; views compare it to skip work. */
  version = 0;

  constructor(opts: RunStoreOptions = {}) {
    this.capacity = opts.capacity ?? 2400;
    this.stepMs = opts.stepMs ?? 200;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Newest first. */
  runs(): Run[] {
    return [...this.runsById.values()].sort((a, b) => b.firstSeen - a.firstSeen);
  }

  get(runId: string): Run | undefined {
    return this.runsById.get(runId);
  }

  started(runId: string, info: RunStartInfo, now = Date.now()): void {
    this.run(runId, now).info = info;
    this.changed(runId);
  }

  progress(p: TransferProgress): void {
    const t = Date.parse(p.at);
    const run = this.run(p.runId, t);
    const key = itemKey(p);
    const item = run.items.get(key);
    if (item) item.latest = p;
    else run.items.set(key, { key, vm: p.vm, disk: p.disk, latest: p });
    const a = aggregate(run);
    const row = [
      t,
      a.sourceRate,
      a.destinationRate,
      a.bufferedBytes,
      a.spoolBytes,
      a.bytesDone,
      VERDICTS.indexOf(a.verdict),
    ];
    const last = run.history.last(COL.t);
    if (last !== undefined && t - last < this.stepMs && t >= last) run.history.replaceLast(row);
    else run.history.push(row);
    this.changed(p.runId);
  }

  finished(r: BackupRunResult): void {
    this.run(r.runId, Date.parse(r.finishedAt)).result = r;
    this.changed(r.runId);
  }

  log(e: EventPayload<'engine.log'>): void {
    const runId = e.context?.runId;
    if (!runId) return;
    const run = this.runsById.get(runId);
    if (!run) return;
    run.log.push({ at: e.at, level: e.level, message: e.message });
    if (run.log.length > LOG_LINES) run.log.splice(0, run.log.length - LOG_LINES);
    this.changed(runId);
  }

  cancelRequested(runId: string): void {
    const run = this.runsById.get(runId);
    if (!run || run.result) return;
    run.cancelRequested = true;
    this.changed(runId);
  }

  summary(runId: string): LiveRunStatus | undefined {
    const run = this.runsById.get(runId);
    return run && summarise(run);
  }

  private run(runId: string, now: number): Run {
    let run = this.runsById.get(runId);
    if (!run) {
      run = {
        runId,
        info: null,
        firstSeen: now,
        items: new Map(),
        history: new RingBuffer(this.capacity, WIDTH),
        cancelRequested: false,
        result: null,
        log: [],
        version: 0,
      };
      this.runsById.set(runId, run);
    }
    return run;
  }

  private changed(runId: string): void {
    const run = this.runsById.get(runId);
    if (run) run.version++;
    this.version++;
    for (const l of this.listeners) l();
  }
}

interface Aggregate {
  sourceRate: number;
  destinationRate: number;
  bufferedBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
  bytesDone: number;
  verdict: Verdict;
}

/**
 * A VM's own sample when its disks report on their own: it carries the VM's phases (and a merge's bytes),
 * never the disks' transfer, so it is not added to the bytes, buffers or bottleneck.
 */
function isVmCarrier(p: TransferProgress): boolean {
  return p.disk === null && (p.disks?.length ?? 0) > 0;
}

/** The run as one flow: the sum of its live transfers (parallel disks or VMs add up, as on the wire). */
function aggregate(run: Run): Aggregate {
  const a: Aggregate = {
    sourceRate: 0,
    destinationRate: 0,
    bufferedBytes: 0,
    spoolBytes: 0,
    spoolCapBytes: 0,
    bytesDone: 0,
    verdict: 'unknown',
  };
  const verdicts: Verdict[] = [];
  for (const row of vmRows(run)) a.bytesDone += row.bytesWritten;
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
    if (p.phase === 'transfer') verdicts.push(p.bottleneck);
  }
  a.verdict = verdicts.includes('destination')
    ? 'destination'
    : verdicts.length > 0 && verdicts.every((v) => v === 'source')
      ? 'source'
      : verdicts.includes('balanced')
        ? 'balanced'
        : 'unknown';
  return a;
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

/** One disk of a VM whose disks report on their own; `latest` is null while it waits for its turn. */
export interface DiskRow {
  key: string;
  disk: { uuid: string; name: string };
  latest: TransferProgress | null;
  /** What to show: its own phase once started; before, "waiting" (or "not started" once its VM ended). */
  status: BackupPhase | 'waiting' | 'not started';
  attempt: number;
  bytesWritten: number;
  totalBytes: number | null;
  /** 0..1, or null when its total is unknown. */
  fraction: number | null;
}

/** One VM of a run: the whole VM (one transfer), or the sum of its disks with a row per disk. */
export interface VmTransferRow {
  key: string;
  vm: TransferProgress['vm'];
  phase: BackupPhase;
  attempt: number;
  bytesWritten: number;
  /** Known only when every disk's total is known (a waiting disk's is not): never a made-up 0. */
  totalBytes: number | null;
  fraction: number | null;
  sourceRate: number;
  destinationRate: number;
  /** null: the VM is one transfer (a full backup's XVA, a restore, an export…). */
  disks: DiskRow[] | null;
  /** The VM's merge (retention) while it runs: its own bytes, shown as that phase's progress. */
  merge: { bytesWritten: number; totalBytes: number | null } | null;
}

function fractionOf(phase: BackupPhase, done: number, total: number | null): number | null {
  if (phase === 'done') return 1;
  if (total === null) return null;
  return total === 0 ? 1 : Math.min(1, done / total);
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
        bytesWritten: own.bytesWritten,
        totalBytes: own.totalBytes,
        fraction: fractionOf(own.phase, own.bytesWritten, own.totalBytes),
        sourceRate: TERMINAL.has(own.phase) ? 0 : own.sourceRate,
        destinationRate: TERMINAL.has(own.phase) ? 0 : own.destinationRate,
        disks: null,
        merge: null,
      });
      continue;
    }
    // The disks the VM named, in its order, then any it did not name (older engines, a restore of one disk).
    const planned = own?.disks ?? [];
    const order = [
      ...planned,
      ...[...disks.values()].filter((p) => !planned.some((d) => d.uuid === p.disk!.uuid)).map((p) => p.disk!),
    ];
    const vmEnded = own !== null && TERMINAL.has(own.phase);
    const diskRows: DiskRow[] = order.map((d) => {
      const latest = disks.get(d.uuid) ?? null;
      const bytesWritten = latest?.bytesWritten ?? 0;
      const totalBytes = latest?.totalBytes ?? null;
      const status: DiskRow['status'] = latest ? latest.phase : vmEnded ? 'not started' : 'waiting';
      return {
        key: `${vmUuid}/${d.uuid}`,
        disk: latest?.disk ?? d,
        latest,
        status,
        attempt: latest?.attempt ?? 0,
        bytesWritten,
        totalBytes,
        fraction: latest ? fractionOf(latest.phase, bytesWritten, totalBytes) : totalBytes === null ? null : 0,
      };
    });
    // A VM sample that does not name its disks is a transfer of its own (an engine that reported both ways): it adds up too.
    const ownPart =
      own && !isVmCarrier(own)
        ? [{ latest: own, status: own.phase, bytesWritten: own.bytesWritten, totalBytes: own.totalBytes }]
        : [];
    const counted = [...diskRows, ...ownPart].filter((d) => d.status !== 'skipped');
    const totalKnown = counted.every((d) => d.totalBytes !== null);
    const totalBytes = totalKnown ? counted.reduce((n, d) => n + d.totalBytes!, 0) : null;
    const bytesWritten = counted.reduce((n, d) => n + d.bytesWritten, 0);
    const live = counted.flatMap((d) => (d.latest && !TERMINAL.has(d.latest.phase) ? [d.latest] : []));
    const phase = own ? own.phase : phaseOfDisks(diskRows);
    rows.push({
      key: vmUuid,
      vm,
      phase,
      attempt: Math.max(1, ...diskRows.map((d) => d.attempt)),
      bytesWritten,
      totalBytes,
      fraction: fractionOf(phase, bytesWritten, totalBytes),
      sourceRate: live.reduce((n, p) => n + p.sourceRate, 0),
      destinationRate: live.reduce((n, p) => n + p.destinationRate, 0),
      disks: diskRows,
      merge: own && own.phase === 'merge' ? { bytesWritten: own.bytesWritten, totalBytes: own.totalBytes } : null,
    });
  }
  return rows;
}

function runPhase(run: Run): BackupPhase {
  let newest: TransferProgress | undefined;
  for (const { latest } of run.items.values()) {
    if (!TERMINAL.has(latest.phase) && (!newest || latest.at >= newest.at)) newest = latest;
  }
  if (newest) return newest.phase;
  return run.items.size === 0 ? 'queued' : 'transfer';
}

export function summarise(run: Run, tailMs = 30_000): LiveRunStatus {
  const h = run.history;
  const n = h.length;
  const flow: FlowSample[] = [];
  const done: DonePoint[] = [];
  const newestT = n > 0 ? h.get(n - 1, COL.t) : 0;
  for (let i = 0; i < n; i++) {
    const t = h.get(i, COL.t);
    if (t < newestT - tailMs) continue;
    flow.push({
      t,
      sourceRate: h.get(i, COL.source),
      destinationRate: h.get(i, COL.destination),
      bufferedBytes: h.get(i, COL.buffered),
      spoolBytes: h.get(i, COL.spool),
      spoolCapBytes: 0,
      engineVerdict: VERDICTS[h.get(i, COL.verdict)] ?? 'unknown',
    });
    done.push({ t, done: h.get(i, COL.done) });
  }
  const a = aggregate(run);
  if (flow.length > 0) flow[flow.length - 1]!.spoolCapBytes = a.spoolCapBytes;
  const total = knownTotal(run);
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
  return {
    state,
    phase,
    bytesDone: a.bytesDone,
    totalBytes: total,
    fraction: total === null ? null : total === 0 ? 1 : Math.min(1, a.bytesDone / total),
    eta: transferring
      ? estimateEta(done, total)
      : total === null
        ? { seconds: null, reason: 'unknown-total' }
        : { seconds: null, reason: 'too-early' },
    bottleneck: transferring
      ? readBottleneck(flow, run.info?.speedLimitBytesPerSec ?? null, flowEnds(run.info?.kind))
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
