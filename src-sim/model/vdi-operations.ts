import { CLUSTER_SIZE } from '../disk/virtual-disk.js';
import { requireObject } from './lookup.js';
import type { PoolState } from './pool-state.js';
import { NULL_REF, newUuid } from './refs.js';
import { XapiError } from './xapi-error.js';

/** A snapshot VDI of `vdi`: same SR, linked by snapshot_of, content shared copy-on-write. */
export function snapshotVdi(state: PoolState, vdi: string, when = new Date()): string {
  const { store } = state;
  const source = requireObject(store, 'VDI', vdi);
  const disk = state.disks.get(vdi);
  if (!disk) throw new XapiError('VDI_MISSING', [source['SR'] as string, vdi]);
  const uuid = newUuid();
  const snapshot = store.add('VDI', {
    ...source,
    uuid,
    location: uuid,
    is_a_snapshot: true,
    snapshot_of: vdi,
    snapshot_time: when,
    current_operations: {},
  });
  state.disks.attach(snapshot, disk.snapshot());
  state.refreshVdiUsage(snapshot);
  return snapshot;
}

/** Clusters read and written per step of a copy: the copy yields between steps, so a cancel is seen. */
const COPY_STEP_CLUSTERS = 64;

export interface CopyProgress {
  /** Aborts when the client cancels the Async task. */
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** The SR's copy speed (rate-limit fault on vdi_copy): the copy takes at least size / rate. */
  bytesPerSecond?: number;
}

/**
 * VDI.copy(vdi, sr): a new VDI on `sr` with the same content (a real copy of the data, not shared: the two
 * disks are independent afterwards), virtual_size, name, description, type and maps; a fresh uuid, no VBDs,
 * not a snapshot, CBT off. The destination is created first, so a full SR is refused as an import onto it
 * is (SR_BACKEND_FAILURE_44). A failed or cancelled copy leaves no destination behind.
 */
export async function copyVdi(state: PoolState, vdi: string, sr: string, progress: CopyProgress = {}): Promise<string> {
  const { store } = state;
  const source = requireObject(store, 'VDI', vdi);
  requireObject(store, 'SR', sr);
  const from = state.disks.get(vdi);
  if (!from || source['type'] === 'cbt_metadata') throw new XapiError('VDI_MISSING', [source['SR'] as string, vdi]);
  if (from.size > state.srFreeSpace(sr))
    throw new XapiError('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', '']);
  const uuid = newUuid();
  const copy = store.add('VDI', {
    name_label: source['name_label']!,
    name_description: source['name_description']!,
    SR: sr,
    virtual_size: from.size,
    physical_utilisation: 0,
    type: source['type']!,
    sharable: source['sharable']!,
    read_only: source['read_only']!,
    other_config: source['other_config']!,
    xenstore_data: source['xenstore_data']!,
    tags: source['tags']!,
    uuid,
    location: uuid,
    is_a_snapshot: false,
    snapshot_of: NULL_REF,
    cbt_enabled: false,
  });
  const to = state.disks.create(copy, from.size, 0);
  const started = performance.now();
  try {
    for (let first = 0; first < from.clusterCount; first += COPY_STEP_CLUSTERS) {
      progress.signal?.throwIfAborted();
      const last = Math.min(from.clusterCount, first + COPY_STEP_CLUSTERS);
      // Only clusters holding data are moved, as sparse-aware SM backends do.
      for (let c = first; c < last; c++) {
        if (!from.isClusterAllocated(c)) continue;
        let end = c + 1;
        while (end < last && from.isClusterAllocated(end)) end++;
        const offset = c * CLUSTER_SIZE;
        const length = Math.min(from.size, end * CLUSTER_SIZE) - offset;
        await to.write(offset, await from.read(offset, length));
        c = end;
      }
      progress.onProgress?.(last / from.clusterCount);
      // A rate-limited SR: every step waits until the time the data up to here would take at that rate.
      const due = progress.bytesPerSecond
        ? (Math.min(from.size, last * CLUSTER_SIZE) / progress.bytesPerSecond) * 1000 - (performance.now() - started)
        : 0;
      if (due > 0) await new Promise<void>((resolve) => setTimeout(resolve, due));
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
    state.refreshVdiUsage(copy);
    return copy;
  } catch (error) {
    store.remove('VDI', copy);
    await state.disks.destroy(copy);
    throw error;
  }
}

/** VDI.destroy: refused while plugged into a running VM; removes the VDI's (unplugged) VBDs with it. */
export async function destroyVdi(state: PoolState, vdi: string): Promise<void> {
  const { store } = state;
  requireObject(store, 'VDI', vdi);
  const vbds = store.find('VBD', (f) => f['VDI'] === vdi);
  if (vbds.some((vbd) => store.fields('VBD', vbd)!['currently_attached'] === true))
    throw new XapiError('VDI_IN_USE', [vdi, 'destroy']);
  for (const vbd of vbds) store.remove('VBD', vbd);
  store.remove('VDI', vdi);
  await state.disks.destroy(vdi);
}

/**
 * VDI.list_changed_blocks: base64 of a bitmap with one bit per 64 KiB block that differs between the two
 * VDIs; block 0 is the most significant bit of byte 0. Both must have CBT enabled.
 */
export function listChangedBlocks(state: PoolState, from: string, to: string): string {
  const { store } = state;
  for (const vdi of [from, to]) {
    if (requireObject(store, 'VDI', vdi)['cbt_enabled'] !== true) throw new XapiError('VDI_NO_CBT_METADATA', [vdi]);
  }
  const fromDisk = state.disks.get(from);
  const toDisk = state.disks.get(to);
  if (!fromDisk || !toDisk) throw new XapiError('VDI_NO_CBT_METADATA', [fromDisk ? to : from]);
  const changed = toDisk.changedClusters(fromDisk);
  const bitmap = Buffer.alloc(Math.ceil(Math.ceil(toDisk.size / CLUSTER_SIZE) / 8));
  changed.forEach((bit, block) => {
    if (bit) bitmap[block >> 3]! |= 0x80 >> (block & 7);
  });
  return bitmap.toString('base64');
}

/**
 * VDI.data_destroy: the snapshot keeps only its CBT metadata (type cbt_metadata), as XO does with the base
 * of the next delta. Its change map survives for list_changed_blocks; exporting it is refused.
 */
export function dataDestroy(state: PoolState, vdi: string): void {
  const f = requireObject(state.store, 'VDI', vdi);
  if (f['cbt_enabled'] !== true) throw new XapiError('VDI_NO_CBT_METADATA', [vdi]);
  if (state.store.find('VBD', (v) => v['VDI'] === vdi && v['currently_attached'] === true).length > 0)
    throw new XapiError('VDI_IN_USE', [vdi, 'data_destroy']);
  state.store.update('VDI', vdi, { type: 'cbt_metadata', physical_utilisation: 0 });
}
