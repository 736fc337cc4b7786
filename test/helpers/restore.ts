import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import type { BackupPoint } from '../../src-main/repository/repository-reader.js';
import type { RestoreOptions } from '../../src-main/restore/restore-options.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { SimHandle } from '../../src-sim/index.js';
import { MiB } from './sim.js';

/** Restore options for engine tests: small buffers, logs and progress collected. */
export function testRestoreOptions(
  spoolDir: string,
  extra: Partial<RestoreOptions> = {},
): RestoreOptions & { logs: string[]; progress: TransferProgress[] } {
  const logs: string[] = [];
  const progress: TransferProgress[] = [];
  return {
    runId: `restore-${Math.random().toString(36).slice(2)}`,
    memoryBufferBytes: 4 * MiB,
    spoolDir,
    spoolCapBytes: 16 * MiB,
    speedLimitBytesPerSec: null,
    log: (level, message) => logs.push(`${level}: ${message}`),
    onProgress: (p) => progress.push(p),
    logs,
    progress,
    ...extra,
  };
}

/** A VM as the simulator's database has it: what a restore must reproduce (MACs and uuids are new). */
export async function vmShape(
  sim: SimHandle,
  vmRef: string,
): Promise<{
  memory: unknown[];
  vcpus: unknown[];
  disks: Array<{ position: string; size: number; bootable: unknown; mode: unknown; sha256: string; sr: string }>;
  networks: Array<{ device: string; network: string }>;
}> {
  const vm = sim.control.records('VM')[vmRef]!;
  const vbds = Object.values(sim.control.records('VBD')).filter((b) => b.VM === vmRef && b.type === 'Disk');
  const vdis = sim.control.records('VDI');
  const srs = sim.control.records('SR');
  const disks = [];
  for (const b of vbds) {
    const vdi = vdis[String(b.VDI)]!;
    disks.push({
      position: String(b.userdevice),
      size: Number(vdi.virtual_size),
      bootable: b.bootable,
      mode: b.mode,
      sha256: await sim.control.hashVdi(String(vdi.uuid)),
      sr: String(srs[String(vdi.SR)]!.name_label),
    });
  }
  const networks = Object.values(sim.control.records('VIF'))
    .filter((v) => v.VM === vmRef)
    .map((v) => ({
      device: String(v.device),
      network: String(sim.control.records('network')[String(v.network)]!.name_label),
    }));
  return {
    memory: [vm.memory_static_min, vm.memory_static_max, vm.memory_dynamic_min, vm.memory_dynamic_max],
    vcpus: [vm.VCPUs_max, vm.VCPUs_at_startup],
    disks: disks.sort((a, b) => a.position.localeCompare(b.position)),
    networks: networks.sort((a, b) => a.device.localeCompare(b.device)),
  };
}

export function vmRefByUuid(sim: SimHandle, uuid: string): string {
  const vms = sim.control.records('VM');
  return Object.keys(vms).find((r) => vms[r]!.uuid === uuid)!;
}

/** What a failed restore must not leave behind: counts of VMs (not snapshots), VDIs, VBDs, VIFs and Sluice tasks. */
export function hostObjects(sim: SimHandle): { vms: number; vdis: number; vbds: number; vifs: number; tasks: number } {
  const count = (
    cls: 'VM' | 'VDI' | 'VBD' | 'VIF' | 'task',
    keep: (r: Record<string, unknown>) => boolean = () => true,
  ) => Object.values(sim.control.records(cls)).filter(keep).length;
  return {
    vms: count('VM'),
    vdis: count('VDI'),
    vbds: count('VBD'),
    vifs: count('VIF'),
    tasks: count(
      'task',
      (t) => String(t.name_label).startsWith('Sluice') && (t.status === 'pending' || t.status === 'cancelling'),
    ),
  };
}

export function pointById(points: BackupPoint[], id: string): BackupPoint {
  return points.find((p) => p.id === id)!;
}

/** Removes a restored VM and its disks (or lone VDIs), so that the next case starts from the same host. */
export async function destroyRestored(xapi: XapiSession, vmRef: string | undefined, vdiRefs: string[]): Promise<void> {
  if (vmRef) await xapi.call('VM.destroy', vmRef);
  for (const vdi of vdiRefs) await xapi.call('VDI.destroy', vdi);
}
