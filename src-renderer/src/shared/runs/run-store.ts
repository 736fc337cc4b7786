import type { BackupRunResult } from '../../../../src-shared/contract/backups.js';
import type { EventPayload } from '../../../../src-shared/contract/index.js';
import type { TransferProgress } from '../../../../src-shared/contract/transfers.js';
import { aggregate, summarise, type LiveRunStatus } from './live-run-status.js';
import { COL, HISTORY_WIDTH, VERDICTS, type Run, type RunStartInfo } from './run-model.js';
import { RingBuffer } from './ring-buffer.js';

/**
 * Every run this window has seen, built from the engine's events alone (backup.progress, backup.finished,
 * engine.log), so a run started by a schedule or another window shows up the same as one started here.
 * Framework-free: views subscribe and redraw on their own clock, so 40 samples a second never means 40
 * React renders a second.
 */

const LOG_LINES = 40;

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
        history: new RingBuffer(this.capacity, HISTORY_WIDTH),
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
