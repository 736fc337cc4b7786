import type { Job, JobInput } from '../../../../src-shared/contract/jobs.js';
import { MiB } from '../../../../src-shared/units.js';

// The job form's state, as text where the admin types (numbers too: "" is allowed while editing), and the
// translation to jobs.save's input. Validation is the engine's: its issues come back with field paths that
// `issueAt` (shared/ui/field-issues.ts) matches to the fields.

export interface ScheduleForm {
  id?: string;
  name: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  keep: string;
  daily: string;
  weekly: string;
  monthly: string;
  yearly: string;
}

export interface JobForm {
  id?: string;
  name: string;
  /** backup: a pool's VMs to the remotes; mirror: the points of one remote (`mirrorFrom`) copied to the others. */
  kind: 'backup' | 'mirror';
  hostId: string;
  mirrorFrom: string;
  selection: 'vms' | 'tags' | 'pool';
  vmUuids: string[];
  tags: string[];
  excludeVmUuids: string[];
  mode: 'full' | 'delta';
  remoteIds: string[];
  schedules: ScheduleForm[];
  compression: 'none' | 'zstd';
  vmConcurrency: string;
  diskConcurrency: string;
  /** MiB/s; empty: no limit of the job's own. */
  speedLimitMiB: string;
  fullInterval: string;
  missedRuns: 'run-at-start' | 'report';
  enabled: boolean;
}

export function localTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function newSchedule(): ScheduleForm {
  return {
    name: 'Nightly',
    cron: '0 2 * * *',
    timezone: localTimezone(),
    enabled: true,
    keep: '7',
    daily: '',
    weekly: '',
    monthly: '',
    yearly: '',
  };
}

export function emptyJobForm(hostId: string, remoteIds: string[]): JobForm {
  return {
    name: '',
    kind: 'backup',
    hostId,
    mirrorFrom: '',
    selection: 'vms',
    vmUuids: [],
    tags: [],
    excludeVmUuids: [],
    mode: 'delta',
    remoteIds,
    schedules: [newSchedule()],
    compression: 'none',
    vmConcurrency: '2',
    diskConcurrency: '1',
    speedLimitMiB: '',
    fullInterval: '0',
    missedRuns: 'report',
    enabled: true,
  };
}

const text = (n: number | undefined) => (n === undefined ? '' : String(n));

export function formFromJob(job: Job): JobForm {
  return {
    id: job.id,
    name: job.name,
    kind: job.mirrorFrom !== undefined ? 'mirror' : 'backup',
    hostId: job.hostId ?? '',
    mirrorFrom: job.mirrorFrom ?? '',
    selection: job.vms.kind,
    vmUuids: job.vms.kind === 'vms' ? job.vms.vmUuids : [],
    tags: job.vms.kind === 'tags' ? job.vms.tags : [],
    excludeVmUuids: job.vms.kind === 'vms' ? [] : job.vms.excludeVmUuids,
    mode: job.mode,
    remoteIds: job.remoteIds,
    schedules: job.schedules.map((s) => ({
      id: s.id,
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      enabled: s.enabled,
      keep: String(s.retention.keep),
      daily: text(s.retention.longTerm?.daily),
      weekly: text(s.retention.longTerm?.weekly),
      monthly: text(s.retention.longTerm?.monthly),
      yearly: text(s.retention.longTerm?.yearly),
    })),
    compression: job.compression,
    vmConcurrency: String(job.vmConcurrency),
    diskConcurrency: String(job.diskConcurrency),
    speedLimitMiB: job.speedLimitBytesPerSec === null ? '' : String(job.speedLimitBytesPerSec / MiB),
    fullInterval: String(job.fullInterval),
    missedRuns: job.missedRuns,
    enabled: job.enabled,
  };
}

/** A typed number, or NaN for text that is not one (the engine then names the field); empty optional → undefined. */
function num(s: string): number {
  return s.trim() === '' ? Number.NaN : Number(s);
}
function optionalNum(s: string): number | undefined {
  return s.trim() === '' ? undefined : Number(s);
}

export function jobInputFromForm(f: JobForm): JobInput {
  const vms: JobInput['vms'] =
    f.selection === 'vms'
      ? { kind: 'vms', vmUuids: f.vmUuids }
      : f.selection === 'tags'
        ? { kind: 'tags', tags: f.tags, excludeVmUuids: f.excludeVmUuids }
        : { kind: 'pool', excludeVmUuids: f.excludeVmUuids };
  const speed = optionalNum(f.speedLimitMiB);
  const mirror = f.kind === 'mirror';
  return {
    ...(f.id ? { id: f.id } : {}),
    name: f.name,
    // A mirror copies every VM the source holds (the CLI and the engine also take a list of VMs).
    ...(mirror ? { mirrorFrom: f.mirrorFrom } : { hostId: f.hostId }),
    vms: mirror && f.selection === 'tags' ? { kind: 'pool', excludeVmUuids: [] } : vms,
    mode: f.mode,
    remoteIds: f.remoteIds,
    schedules: f.schedules.map((s) => {
      const longTerm = {
        daily: optionalNum(s.daily),
        weekly: optionalNum(s.weekly),
        monthly: optionalNum(s.monthly),
        yearly: optionalNum(s.yearly),
      };
      const hasLongTerm = Object.values(longTerm).some((v) => v !== undefined);
      return {
        ...(s.id ? { id: s.id } : {}),
        name: s.name,
        cron: s.cron,
        timezone: s.timezone,
        enabled: s.enabled,
        retention: {
          keep: num(s.keep),
          ...(hasLongTerm
            ? { longTerm: Object.fromEntries(Object.entries(longTerm).filter(([, v]) => v !== undefined)) }
            : {}),
        },
      };
    }),
    compression: mirror ? 'none' : f.compression,
    vmConcurrency: num(f.vmConcurrency),
    diskConcurrency: num(f.diskConcurrency),
    speedLimitBytesPerSec: speed === undefined ? null : Math.round(speed * MiB),
    fullInterval: num(f.fullInterval),
    missedRuns: f.missedRuns,
    enabled: f.enabled,
  };
}
