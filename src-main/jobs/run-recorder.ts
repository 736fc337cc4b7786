import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { Job } from '../../src-shared/contract/jobs.js';
import type { RunError, RunSample, RunSummary, RunVmResult } from '../../src-shared/contract/runs.js';
import type { DeltaBackupResult } from '../backup/delta-backup.js';
import type { FullBackupResult } from '../backup/full-backup.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { RunHistory } from './run-history.js';

const SAMPLE_EVERY_MS = 1000;
const MAX_SAMPLES = 20_000;

export function toRunError(err: unknown): RunError {
  const e =
    err instanceof SluiceError ? err : new SluiceError('INTERNAL', err instanceof Error ? err.message : String(err));
  const cause = (err as { cause?: unknown })?.cause;
  const context = Object.fromEntries(
    Object.entries(e.context).filter((kv): kv is [string, string] => typeof kv[1] === 'string'),
  );
  return {
    code: e.code,
    message: e.message,
    ...(e.hint ? { hint: e.hint } : {}),
    ...(cause instanceof Error && cause.message !== e.message
      ? { cause: cause.message }
      : cause !== undefined && typeof cause !== 'object'
        ? { cause: String(cause) }
        : {}),
    ...(Object.keys(context).length ? { context } : {}),
  };
}

/** What one VM's backup made, as the record keeps it: full mode one XVA entry, delta one entry per disk. */
export function vmOutcome(
  vmName: string,
  r: { mode: 'full'; result: FullBackupResult } | { mode: 'delta'; result: DeltaBackupResult },
): Parameters<RunRecorder['vmSucceeded']>[2] {
  if (r.mode === 'full') {
    const x = r.result;
    return {
      pointId: x.pointId,
      bytes: x.bytes,
      attempts: x.attempts,
      durationMs: x.durationMs,
      disks: [{ uuid: null, name: `${vmName} (XVA, all disks)`, bytes: x.bytes, differencing: null }],
    };
  }
  const x = r.result;
  const disks = x.disks.map((d) => ({ uuid: d.vdiUuid, name: d.name, bytes: d.bytes, differencing: d.differencing }));
  return { pointId: x.pointId, bytes: x.bytes, attempts: 1, durationMs: x.durationMs, disks };
}

/**
 * One run's record as it happens: VM results, warnings, errors, speeds and the throughput samples, written
 * to the history at each step that matters (start, a VM starting or ending, the end).
 */
export class RunRecorder {
  readonly summary: RunSummary;
  readonly samples: RunSample[] = [];
  private readonly startedMs: number;
  private readonly lastSample = new Map<string, number>();
  private readonly liveRates = new Map<string, number>();
  private readonly current = new Map<string, RunVmResult>();

  constructor(
    private readonly history: RunHistory,
    init: {
      runId: string;
      /** A job, or (id null) a "Back up now" run named for what it backs up. */
      job: { id: string | null; name: string; mode: Job['mode'] };
      hostId?: string;
      trigger: RunSummary['trigger'];
      scheduleId: string | null;
      scheduledFor: Date | null;
      remotes: RunSummary['remotes'];
      mirrorFrom?: RunSummary['mirrorFrom'];
      now: Date;
    },
  ) {
    this.startedMs = init.now.getTime();
    this.summary = {
      runId: init.runId,
      jobId: init.job.id,
      jobName: init.job.name,
      ...(init.hostId ? { hostId: init.hostId } : {}),
      scheduleId: init.scheduleId,
      trigger: init.trigger,
      scheduledFor: init.scheduledFor?.toISOString() ?? null,
      status: 'running',
      mode: init.job.mode,
      remotes: init.remotes,
      ...(init.mirrorFrom ? { mirrorFrom: init.mirrorFrom } : {}),
      startedAt: init.now.toISOString(),
      finishedAt: null,
      bytes: 0,
      averageBytesPerSec: 0,
      peakBytesPerSec: 0,
      vms: [],
      warnings: [],
      errors: [],
    };
  }

  save(withSamples = false): Promise<void> {
    return this.history.write(this.summary, withSamples ? this.samples : undefined);
  }

  plan(vms: Array<{ uuid: string; name: string }>, remoteIds: string[]): void {
    for (const vm of vms) {
      for (const remoteId of remoteIds) {
        this.summary.vms.push({
          vmUuid: vm.uuid,
          vmName: vm.name,
          remoteId,
          status: 'pending',
          pointId: null,
          bytes: 0,
          startedAt: null,
          finishedAt: null,
          averageBytesPerSec: 0,
          peakBytesPerSec: 0,
          attempts: 0,
          disks: [],
          error: null,
        });
      }
    }
  }

  private entry(vmUuid: string, remoteId: string): RunVmResult {
    const e = this.summary.vms.find((v) => v.vmUuid === vmUuid && v.remoteId === remoteId);
    if (!e) throw new Error(`no planned entry for ${vmUuid} on ${remoteId}`);
    return e;
  }

  vmStarted(vmUuid: string, remoteId: string, now: Date): void {
    const e = this.entry(vmUuid, remoteId);
    e.status = 'running';
    e.startedAt = now.toISOString();
    this.current.set(vmUuid, e);
  }

  vmSucceeded(
    vmUuid: string,
    remoteId: string,
    r: { pointId: string; bytes: number; attempts: number; durationMs: number; disks: RunVmResult['disks'] },
    now: Date,
  ): void {
    const e = this.entry(vmUuid, remoteId);
    Object.assign(e, {
      status: 'success',
      pointId: r.pointId,
      bytes: r.bytes,
      attempts: r.attempts,
      disks: r.disks,
      finishedAt: now.toISOString(),
    });
    e.averageBytesPerSec = r.durationMs > 0 ? Math.round(r.bytes / (r.durationMs / 1000)) : 0;
    this.current.delete(vmUuid);
  }

  vmFailed(vmUuid: string, remoteId: string, err: unknown, cancelled: boolean, now: Date): void {
    const e = this.entry(vmUuid, remoteId);
    e.status = cancelled ? 'cancelled' : 'failed';
    e.error = toRunError(err);
    e.finishedAt = now.toISOString();
    this.current.delete(vmUuid);
  }

  warn(message: string, at: Date, context?: Record<string, string>): void {
    this.summary.warnings.push({ message, at: at.toISOString(), ...(context ? { context } : {}) });
  }

  error(err: unknown): void {
    this.summary.errors.push(toRunError(err));
  }

  progress(p: TransferProgress, now: Date): void {
    const key = `${p.vm.uuid}/${p.disk?.uuid ?? ''}`;
    const e = this.current.get(p.vm.uuid);
    if (e && p.phase === 'transfer') e.peakBytesPerSec = Math.max(e.peakBytesPerSec, Math.round(p.destinationRate));
    if (p.phase === 'transfer') this.liveRates.set(key, p.destinationRate);
    else this.liveRates.delete(key);
    // The run's peak is of all transfers together (VMs and disks in parallel add up).
    let sum = 0;
    for (const r of this.liveRates.values()) sum += r;
    this.summary.peakBytesPerSec = Math.max(this.summary.peakBytesPerSec, Math.round(sum));
    const t = now.getTime() - this.startedMs;
    const last = this.lastSample.get(key);
    const final = p.phase === 'done' || p.phase === 'failed' || p.phase === 'cancelled';
    if (last !== undefined && t - last < SAMPLE_EVERY_MS && !final) return;
    this.lastSample.set(key, t);
    this.samples.push({
      t,
      vmUuid: p.vm.uuid,
      diskUuid: p.disk?.uuid ?? null,
      bytesWritten: p.bytesWritten,
      sourceRate: Math.round(p.sourceRate),
      destinationRate: Math.round(p.destinationRate),
      memoryBytes: p.memoryBytes,
      spoolBytes: p.spoolBytes,
      spoolCapBytes: p.spoolCapBytes,
      phase: p.phase,
    });
    if (this.samples.length > MAX_SAMPLES) {
      // Halve the resolution rather than lose the end of a long run.
      const kept = this.samples.filter((_, i) => i % 2 === 0);
      this.samples.splice(0, this.samples.length, ...kept);
    }
  }

  finish(now: Date, cancelled: boolean): RunSummary {
    const s = this.summary;
    for (const v of s.vms) {
      if (v.status === 'pending' || v.status === 'running') {
        v.status = 'cancelled';
        if (!v.error && cancelled) v.error = { code: 'CANCELLED', message: 'Not backed up: the run was cancelled.' };
      }
    }
    s.finishedAt = now.toISOString();
    s.bytes = s.vms.reduce((a, v) => a + v.bytes, 0);
    const secs = (now.getTime() - this.startedMs) / 1000;
    s.averageBytesPerSec = secs > 0 ? Math.round(s.bytes / secs) : 0;
    const ok = s.vms.filter((v) => v.status === 'success').length;
    if (cancelled) s.status = 'cancelled';
    else if (s.vms.length > 0 && ok === s.vms.length && s.errors.length === 0) s.status = 'success';
    else if (ok > 0) s.status = 'partial';
    else s.status = 'failed';
    return s;
  }
}
