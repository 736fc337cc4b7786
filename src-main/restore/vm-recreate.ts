import type { BackupLog } from '../core/run-log.js';
import type { DeltaMetadata, DeltaPointDisk } from '../repository/index.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { NULL_REF } from '../xapi/xapi-records.js';
import { type MadeClass, madeByEntry, markMadeBy, unmarkMadeBy } from '../xapi/owned-objects.js';
import { RESTORED_TAG } from '../../src-shared/restored-vm.js';

// The records of an incremental point become a new VM on the target pool: VM.create from the snapshot's
// record (the configuration at the time of the point) under its new name, tagged as restored, VDI.create per
// disk on its SR, VBD.create at the same positions, VIF.create on the same networks. References to the source
// pool's objects cannot be carried over and are dropped; identity and runtime fields are the host's to fill.

type Rec = Record<string, unknown>;

/**
 * Everything created so far, so that a failed or cancelled restore leaves nothing behind. Each object is
 * marked as this run's on the host the moment it is recorded (owned-objects.ts), so that a restore killed
 * before it can clean up is cleaned up by the next run on the pool; `keep` hands the finished restore over.
 */
export class CreatedObjects {
  private vm: string | undefined;
  private readonly vdis: string[] = [];

  constructor(
    private readonly xapi: XapiSession,
    private readonly runId: string,
  ) {}

  /** The other_config entry that marks an object as this run's, for the objects Sluice creates itself. */
  mark(): Record<string, string> {
    return madeByEntry(this.runId);
  }

  /** An object created with `mark()` in its other_config. */
  record(cls: MadeClass, ref: string): void {
    if (cls === 'VM') this.vm = ref;
    else this.vdis.push(ref);
  }

  /** An object the host made for us (an import's VM, a copy's VDI): recorded, then marked. */
  async adopt(cls: MadeClass, ref: string): Promise<void> {
    this.record(cls, ref);
    await markMadeBy(this.xapi, cls, ref, this.runId);
  }

  /** A VDI the restore has destroyed itself (a disk moved to another SR leaves its original). */
  forgetVdi(ref: string): void {
    const i = this.vdis.indexOf(ref);
    if (i >= 0) this.vdis.splice(i, 1);
  }

  /** The restore finished: its VM and disks are the admin's now, unmarked, and no clean-up may touch them. */
  async keep(): Promise<void> {
    for (const vdi of this.vdis) await unmarkMadeBy(this.xapi, 'VDI', vdi);
    if (this.vm) await unmarkMadeBy(this.xapi, 'VM', this.vm);
    this.vm = undefined;
    this.vdis.length = 0;
  }

  async destroy(log: BackupLog): Promise<void> {
    const xapi = this.xapi;
    if (this.vm) {
      await xapi.call('VM.hard_shutdown', this.vm).catch(() => {});
      await xapi
        .call('VM.destroy', this.vm)
        .catch((e: Error) => log('warn', `Could not remove the half-restored VM: ${e.message}`));
    }
    for (const vdi of this.vdis)
      await xapi
        .call('VDI.destroy', vdi)
        .catch((e: Error) => log('warn', `Could not remove a half-restored disk: ${e.message}`));
    this.vm = undefined;
    this.vdis.length = 0;
  }
}

const VM_DROPPED = new Set([
  'uuid',
  'VBDs',
  'VIFs',
  'VTPMs',
  'VUSBs',
  'VGPUs',
  'PCIs',
  'attached_PCIs',
  'consoles',
  'crash_dumps',
  'snapshots',
  'children',
  'parent',
  'snapshot_of',
  'snapshot_time',
  'snapshot_info',
  'snapshot_metadata',
  'transportable_snapshot_id',
  'resident_on',
  'scheduled_to_be_resident_on',
  'metrics',
  'guest_metrics',
  'suspend_VDI',
  'suspend_SR',
  'power_state',
  'domid',
  'domarch',
  'current_operations',
  'allowed_operations',
  'is_a_snapshot',
  'is_control_domain',
  'is_default_template',
  'is_a_template',
  'last_booted_record',
  'last_boot_CPU_flags',
  'requires_reboot',
  'pending_guidances',
  'memory_target',
  'memory_overhead',
  'start_time',
  'install_time',
  'blobs',
  'tags',
]);

/** Drops references to the source pool (refs and ref lists): they mean nothing on the target. */
function withoutForeignRefs(record: Rec): Rec {
  const out: Rec = {};
  for (const [key, value] of Object.entries(record)) {
    if (key.startsWith('$')) continue;
    if (typeof value === 'string' && value.startsWith('OpaqueRef:')) out[key] = NULL_REF;
    else if (
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((v) => typeof v === 'string' && v.startsWith('OpaqueRef:'))
    )
      out[key] = [];
    else out[key] = value;
  }
  return out;
}

/** Sluice's and XO's bookkeeping keys describe the backup, not the VM. */
function cleanOtherConfig(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((value as Record<string, string> | undefined) ?? {})) {
    if (!k.startsWith('sluice:') && !k.startsWith('xo:')) out[k] = String(v);
  }
  return out;
}

export async function createVmFromMetadata(
  xapi: XapiSession,
  meta: DeltaMetadata,
  name: string,
  created: CreatedObjects,
): Promise<string> {
  const snapshot = meta.vmSnapshot;
  const record: Rec = {};
  for (const [k, v] of Object.entries(withoutForeignRefs(snapshot))) if (!VM_DROPPED.has(k)) record[k] = v;
  Object.assign(record, {
    name_label: name,
    name_description: String(meta.vm['name_description'] ?? snapshot['name_description'] ?? ''),
    is_a_template: false,
    other_config: { ...cleanOtherConfig(snapshot['other_config']), ...created.mark() },
    tags: [
      ...(Array.isArray(meta.vm['tags'])
        ? meta.vm['tags'].filter((t) => typeof t === 'string' && !t.startsWith('xo:') && t !== RESTORED_TAG)
        : []),
      RESTORED_TAG,
    ],
  });
  const vmRef = await xapi.call<string>('VM.create', record);
  created.record('VM', vmRef);
  return vmRef;
}

export async function createDiskFor(
  xapi: XapiSession,
  disk: DeltaPointDisk,
  srRef: string,
  vmRef: string | undefined,
  created: CreatedObjects,
): Promise<string> {
  const v = disk.vdi;
  const vdiRef = await xapi.call<string>('VDI.create', {
    name_label: String(v['name_label'] ?? disk.name),
    name_description: String(v['name_description'] ?? ''),
    SR: srRef,
    virtual_size: String(disk.virtualSize),
    type: String(v['type'] ?? 'user') === 'system' ? 'system' : 'user',
    sharable: v['sharable'] === true,
    read_only: false,
    other_config: { ...cleanOtherConfig(v['other_config']), ...created.mark() },
    xenstore_data: {},
    sm_config: {},
    tags: [],
  });
  created.record('VDI', vdiRef);
  if (vmRef && disk.vbd) {
    const b = disk.vbd;
    await xapi.call('VBD.create', {
      VM: vmRef,
      VDI: vdiRef,
      userdevice: disk.position,
      bootable: b['bootable'] === true,
      mode: String(b['mode'] ?? 'RW'),
      type: 'Disk',
      empty: false,
      unpluggable: b['unpluggable'] === true,
      other_config: {},
      qos_algorithm_type: String(b['qos_algorithm_type'] ?? ''),
      qos_algorithm_params: (b['qos_algorithm_params'] as Rec | undefined) ?? {},
    });
  }
  return vdiRef;
}

/**
 * VIFs on the same networks: the recorded network when the target pool has it (same pool), else one with the
 * recorded uuid or name. A VIF whose network is nowhere to be found is left out, and the log says so.
 * MACs are fresh: the restored VM is a new VM, possibly next to the original.
 */
export async function createVifs(
  xapi: XapiSession,
  meta: DeltaMetadata,
  vmRef: string,
  log: BackupLog,
  context: Record<string, string>,
): Promise<number> {
  const vifs = Array.isArray(meta.vifs) ? meta.vifs : Object.values(meta.vifs);
  let made = 0;
  for (const vif of vifs) {
    const network = await findNetwork(xapi, vif);
    if (!network) {
      log(
        'warn',
        `Network interface ${String(vif['device'] ?? '?')} not restored: its network is not on this pool.`,
        context,
      );
      continue;
    }
    await xapi.call('VIF.create', {
      device: String(vif['device'] ?? made),
      network,
      VM: vmRef,
      MAC: '',
      MTU: String(vif['MTU'] ?? 1500),
      other_config: cleanOtherConfig(vif['other_config']),
      qos_algorithm_type: String(vif['qos_algorithm_type'] ?? ''),
      qos_algorithm_params: (vif['qos_algorithm_params'] as Rec | undefined) ?? {},
      locking_mode: String(vif['locking_mode'] ?? 'network_default'),
      ipv4_allowed: (vif['ipv4_allowed'] as string[] | undefined) ?? [],
      ipv6_allowed: (vif['ipv6_allowed'] as string[] | undefined) ?? [],
    });
    made++;
  }
  return made;
}

async function findNetwork(xapi: XapiSession, vif: Rec): Promise<string | undefined> {
  const ref = vif['network'];
  if (typeof ref === 'string' && ref !== NULL_REF) {
    const ok = await xapi.call('network.get_uuid', ref).then(
      () => true,
      () => false,
    );
    if (ok) return ref;
  }
  const uuid = vif['$network$uuid'];
  if (typeof uuid === 'string') {
    const byUuid = await xapi.call<string>('network.get_by_uuid', uuid).catch(() => undefined);
    if (byUuid) return byUuid;
  }
  const name = vif['$network$name_label'];
  if (typeof name === 'string')
    return (await xapi.call<string[]>('network.get_by_name_label', name).catch(() => [] as string[]))[0];
  return undefined;
}
