import { openRemote } from '../remotes/remote-registry.js';
import type { Inventory } from '../../src-shared/contract/inventory.js';
import type { Dashboard } from '../../src-shared/contract/dashboard.js';
import type { Job } from '../../src-shared/contract/jobs.js';
import { NO_BACKUP_TAG } from '../../src-shared/vm-tags.js';
import { listBackupPoints, pointSizes, type BackupPoint } from '../repository/index.js';
import type { Settings } from '../settings/settings-schema.js';
import type { RunHistory } from './run-history.js';

export interface DashboardSources {
  settings: Settings;
  history: RunHistory;
  nextRuns: (job: Job) => Array<{ scheduleId: string; at: Date }>;
  inventory: (hostId: string) => Promise<Inventory | null>;
  now: Date;
}

function selects(job: Job, vm: Inventory['vms'][number]): boolean {
  const sel = job.vms;
  if (sel.kind === 'vms') return sel.vmUuids.some((u) => u.toLowerCase() === vm.uuid.toLowerCase());
  if (sel.excludeVmUuids.some((u) => u.toLowerCase() === vm.uuid.toLowerCase())) return false;
  return sel.kind === 'pool' || vm.tags.some((t) => sel.tags.includes(t));
}

type Newest = Map<string, { point: BackupPoint; remoteId: string }>;

/**
 * What an admin looks at when something may be wrong: which VMs have a good point (and how recent) and
 * which have none, the last runs, the next ones, and what each remote holds.
 */
export async function buildDashboard(src: DashboardSources): Promise<Dashboard> {
  const { remotes, newest } = await remoteHoldings(src.settings);
  const { unprotected, unreachableHosts, names } = await unprotectedVms(src, newest);
  const protectedOnes = protectedVms(src.settings, newest, names);
  const nextRuns = upcomingRuns(src);
  return {
    generatedAt: src.now.toISOString(),
    vms: { protected: protectedOnes, unprotected: unprotected.sort((a, b) => a.vmName.localeCompare(b.vmName)) },
    lastRuns: await src.history.list({ limit: 10 }),
    nextRuns,
    remotes,
    unreachableHosts,
  };
}

/** Each remote's space and points, and the newest point of every VM over all remotes. */
async function remoteHoldings(settings: Settings): Promise<{ remotes: Dashboard['remotes']; newest: Newest }> {
  const newest: Newest = new Map();
  const remotes: Dashboard['remotes'] = [];
  for (const r of settings.remotes) {
    const entry: Dashboard['remotes'][number] = {
      remoteId: r.id,
      name: r.name,
      path: r.path,
      usedBytes: 0,
      points: 0,
      freeBytes: null,
      totalBytes: null,
      error: null,
    };
    try {
      // Through the remote, which knows how to ask its medium (a folder's statfs; an object store knows none).
      const space = await openRemote(r.path).freeSpace();
      entry.freeBytes = space?.freeBytes ?? null;
      entry.totalBytes = space?.totalBytes ?? null;
      const { points } = await listBackupPoints(r.path);
      entry.points = points.length;
      // What the points hold now: a base that absorbed a merge holds the whole disk, whatever its metadata says.
      const sizes = await pointSizes(points);
      entry.usedBytes = points.reduce((a, p) => a + (sizes.get(p) ?? 0), 0);
      for (const p of points) {
        const cur = newest.get(p.vmUuid);
        if (!cur || cur.point.timestamp < p.timestamp) newest.set(p.vmUuid, { point: p, remoteId: r.id });
      }
    } catch (err) {
      entry.error = (err as Error).message;
    }
    remotes.push(entry);
  }
  return { remotes, newest };
}

/** The VMs of every reachable pool that have no point, each with why; and the VMs' names as the pools say them. */
async function unprotectedVms(
  src: DashboardSources,
  newest: Newest,
): Promise<{
  unprotected: Dashboard['vms']['unprotected'];
  unreachableHosts: Dashboard['unreachableHosts'];
  names: Map<string, string>;
}> {
  const { settings } = src;
  const unreachableHosts: Dashboard['unreachableHosts'] = [];
  const unprotected: Dashboard['vms']['unprotected'] = [];
  const names = new Map<string, string>();
  for (const h of settings.hosts) {
    let inv: Inventory | null = null;
    try {
      inv = await src.inventory(h.id);
    } catch (err) {
      unreachableHosts.push({ hostId: h.id, label: h.label, error: (err as Error).message });
      continue;
    }
    for (const vm of inv?.vms ?? []) {
      names.set(vm.uuid, vm.name);
      if (newest.has(vm.uuid)) continue;
      const jobs = settings.jobs.filter((j) => j.enabled && j.hostId === h.id && selects(j, vm));
      const reason = vm.tags.includes(NO_BACKUP_TAG)
        ? `tagged ${NO_BACKUP_TAG}: excluded from backups`
        : jobs.length === 0
          ? 'no job backs it up'
          : `no backup point yet (job${jobs.length > 1 ? 's' : ''} ${jobs.map((j) => `"${j.name}"`).join(', ')})`;
      unprotected.push({ vmUuid: vm.uuid, vmName: vm.name, hostId: h.id, reason });
    }
  }
  return { unprotected, unreachableHosts, names };
}

function protectedVms(settings: Settings, newest: Newest, names: Map<string, string>): Dashboard['vms']['protected'] {
  const jobName = (id: string) => settings.jobs.find((j) => j.id === id)?.name ?? null;
  return [...newest.values()]
    .map(({ point, remoteId }) => ({
      vmUuid: point.vmUuid,
      vmName: names.get(point.vmUuid) ?? point.vmName,
      lastGoodPoint: {
        pointId: point.id,
        at: point.timestamp.toISOString(),
        mode: point.mode,
        jobId: point.jobId,
        jobName: jobName(point.jobId),
        remoteId,
      },
    }))
    .sort((a, b) => a.vmName.localeCompare(b.vmName));
}

/** The 20 next scheduled runs of all jobs, soonest first. */
function upcomingRuns(src: DashboardSources): Dashboard['nextRuns'] {
  const { settings } = src;
  return settings.jobs
    .flatMap((j) =>
      src.nextRuns(j).map((n) => {
        const schedule = j.schedules.find((s) => s.id === n.scheduleId);
        return {
          jobId: j.id,
          jobName: j.name,
          scheduleId: n.scheduleId,
          scheduleName: schedule?.name ?? '',
          timezone: schedule?.timezone ?? 'UTC',
          at: n.at,
        };
      }),
    )
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .slice(0, 20)
    .map((n) => ({ ...n, at: n.at.toISOString() }));
}
