import { physicalUtilisation } from './vdi-utilisation.js';
import { DiskRegistry } from './disk-registry.js';
import { ObjectStore } from './object-store.js';
import { NULL_REF } from './refs.js';
import { SessionRegistry } from './sessions.js';
import { TaskManager } from './tasks.js';
import type { XapiStruct } from './values.js';

export interface PoolConfig {
  username: string;
  password: string;
  loginFailureDelayMs: number;
  /** XenServer 7.5 era: SHA-1 XVA checksums, API 2.10, vhd-tool's 2 s stall limit. */
  oldHost: boolean;
  /** VDI.get_nbd_info lists an endpoint (as when a network has purpose nbd); default: empty list. */
  nbd: boolean;
}

/** Everything both hosts of the pool share: the database, sessions, tasks and disk contents. */
export class PoolState {
  readonly store = new ObjectStore();
  readonly sessions = new SessionRegistry();
  readonly tasks: TaskManager;
  readonly disks: DiskRegistry;
  poolRef = NULL_REF;
  coordinatorRef = NULL_REF;
  secondHostRef = NULL_REF;
  /** PEM of each host's TLS certificate by host ref, as host.get_server_certificate answers it. */
  readonly serverCertificates = new Map<string, string>();

  constructor(
    readonly config: PoolConfig,
    backingDir: string,
    seed: number,
  ) {
    this.disks = new DiskRegistry(backingDir, seed);
    this.tasks = new TaskManager(this.store, () => this.coordinatorRef);
    this.store.defineComputed('SR', (_ref, fields) => this.srUsage(fields));
  }

  /** Recomputes VDI.physical_utilisation after its content changed (guest write, import). */
  refreshVdiUsage(vdiRef: string): void {
    const disk = this.disks.get(vdiRef);
    const vdi = this.store.fields('VDI', vdiRef);
    if (!disk || !vdi) return;
    const srType = String(this.store.fields('SR', vdi['SR'] as string)?.['type'] ?? '');
    this.store.update('VDI', vdiRef, {
      physical_utilisation: physicalUtilisation(disk, srType, vdi['is_a_snapshot'] === true),
    });
  }

  /** Free bytes on an SR, for the "SR full" check of imports. */
  srFreeSpace(srRef: string): number {
    const sr = this.store.record('SR', srRef);
    if (!sr) return 0;
    return (sr['physical_size'] as number) - (sr['physical_utilisation'] as number);
  }

  private srUsage(fields: XapiStruct): XapiStruct {
    let used = 0;
    let virtual = 0;
    for (const vdi of (fields['VDIs'] as string[] | undefined) ?? []) {
      const f = this.store.fields('VDI', vdi);
      used += (f?.['physical_utilisation'] as number | undefined) ?? 0;
      virtual += (f?.['virtual_size'] as number | undefined) ?? 0;
    }
    return { physical_utilisation: used, virtual_allocation: virtual };
  }
}
