import { createHash } from 'node:crypto';
import { rawExport } from './formats/raw-export.js';
import type { FaultSet } from './fault-set.js';
import type { FaultSpecInput, HostName } from './fault-spec.js';
import { refByUuid, requireObject, str } from './model/lookup.js';
import type { XapiClass } from './model/classes.js';
import type { PoolState } from './model/pool-state.js';
import { shutdownVm, startVm } from './model/vm-operations.js';
import type { XapiStruct } from './model/values.js';
import { parseFault } from './options.js';
import type { TransferRecord, TransferStats } from './transfer-stats.js';

export interface FaultInfo {
  id: number;
  host: HostName;
  kind: string;
  /** Uses left; absent = permanent. */
  remaining?: number;
  spec: FaultSpecInput;
}

export interface SimStats {
  activeExports: number;
  maxConcurrentExports: number;
  transfers: TransferRecord[];
}

/**
 * What tests may do to the pool behind the API's back: arm faults, make guests write, read disks back,
 * rotate certificates, watch transfers. Also served over HTTP by control-server.ts.
 */
export interface SimControl {
  /** Arms a fault (spec or CLI form); returns its id. */
  addFault(fault: FaultSpecInput | string): number;
  removeFault(id: number): boolean;
  /** Clears the faults of one host, or of both. */
  clearFaults(host?: HostName): void;
  listFaults(): FaultInfo[];
  /** "The guest wrote `fraction` of its blocks": changes every disk of a VM (not its snapshots). */
  guestWrite(vmUuid: string, fraction: number, seed?: number): Array<{ vdi: string; clustersChanged: number }>;
  /** The whole raw content of a VDI (zeros included), streamed. */
  readVdiRaw(vdiUuid: string): AsyncIterable<Buffer>;
  readVdi(vdiUuid: string, offset: number, length: number): Promise<Buffer>;
  /** SHA-256 (hex) of a VDI's raw content: compare restores without moving the bytes. */
  hashVdi(vdiUuid: string): Promise<string>;
  /** A new self-signed certificate for a host (default coordinator); returns its fingerprint. */
  rotateCertificate(host?: HostName): Promise<string>;
  stats(): SimStats;
  resetStats(): void;
  /** Forgets every session, as a toolstack restart does. */
  invalidateSessions(): void;
  setSrPhysicalSize(srUuid: string, bytes: number): void;
  setPowerState(vmUuid: string, powerState: 'Running' | 'Halted'): void;
  /** Records of a class keyed by ref (a direct look at the database, for assertions). */
  records(cls: XapiClass): Record<string, XapiStruct>;
  vmUuidByName(name: string): string;
}

export interface ControlDeps {
  state: PoolState;
  faults: Record<HostName, FaultSet>;
  stats: TransferStats;
  rotateCertificate(host: HostName): Promise<string>;
}

export function createControl({ state, faults, stats, rotateCertificate }: ControlDeps): SimControl {
  const { store } = state;
  const diskOf = (vdiUuid: string) => {
    const ref = refByUuid(store, 'VDI', vdiUuid);
    const disk = state.disks.get(ref);
    if (!disk) throw new Error(`VDI ${vdiUuid} has no content (cbt_metadata?)`);
    return disk;
  };
  return {
    addFault(fault) {
      const spec = parseFault(fault);
      return faults[spec.host].add(spec);
    },
    removeFault: (id) => faults.coordinator.remove(id) || faults.second.remove(id),
    clearFaults(host) {
      for (const name of host ? [host] : (['coordinator', 'second'] as const)) faults[name].clear();
    },
    listFaults: () =>
      (['coordinator', 'second'] as const).flatMap((host) =>
        faults[host].list().map((f) => ({
          id: f.id,
          host,
          kind: f.spec.kind,
          ...(f.remaining !== undefined ? { remaining: f.remaining } : {}),
          spec: f.spec,
        })),
      ),
    guestWrite(vmUuid, fraction, seed) {
      const vm = refByUuid(store, 'VM', vmUuid);
      if (!(fraction >= 0 && fraction <= 1)) throw new Error('fraction must be within 0..1');
      const out: Array<{ vdi: string; clustersChanged: number }> = [];
      for (const vbd of store.find('VBD', (f) => f['VM'] === vm)) {
        const vdi = str(store.fields('VBD', vbd)!, 'VDI');
        const disk = state.disks.get(vdi);
        if (!disk) continue;
        out.push({ vdi: str(store.fields('VDI', vdi)!, 'uuid'), clustersChanged: disk.guestWrite(fraction, seed) });
        state.refreshVdiUsage(vdi);
      }
      return out;
    },
    readVdiRaw: (vdiUuid) => rawExport(diskOf(vdiUuid)),
    readVdi: (vdiUuid, offset, length) => diskOf(vdiUuid).read(offset, length),
    async hashVdi(vdiUuid) {
      const hash = createHash('sha256');
      for await (const chunk of rawExport(diskOf(vdiUuid))) hash.update(chunk);
      return hash.digest('hex');
    },
    rotateCertificate: (host = 'coordinator') => rotateCertificate(host),
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    invalidateSessions: () => state.sessions.closeAll(),
    setSrPhysicalSize(srUuid, bytes) {
      store.update('SR', refByUuid(store, 'SR', srUuid), { physical_size: bytes });
    },
    setPowerState(vmUuid, powerState) {
      const vm = refByUuid(store, 'VM', vmUuid);
      const current = str(requireObject(store, 'VM', vm), 'power_state');
      if (current === powerState) return;
      if (powerState === 'Running') startVm(state, vm);
      else shutdownVm(state, vm, true);
    },
    records(cls) {
      const out: Record<string, XapiStruct> = {};
      for (const ref of store.refs(cls)) out[ref] = store.record(cls, ref)!;
      return out;
    },
    vmUuidByName(name) {
      const [ref] = store.find('VM', (f) => f['name_label'] === name && f['is_a_snapshot'] !== true);
      if (!ref) throw new Error(`no VM named "${name}"`);
      return str(store.fields('VM', ref)!, 'uuid');
    },
  };
}
