import { XapiError } from './xapi-error.js';
import type { XapiSession } from './xapi-session.js';
import {
  hostRecordSchema,
  NULL_REF,
  poolRecordSchema,
  srRecordSchema,
  vbdRecordSchema,
  vdiRecordSchema,
  vmRecordSchema,
  type HostRecord,
  type PoolRecord,
  type SrRecord,
  type VbdRecord,
  type VdiRecord,
  type VmRecord,
} from './xapi-records.js';

const CLASSES = {
  pool: poolRecordSchema,
  host: hostRecordSchema,
  sr: srRecordSchema,
  vm: vmRecordSchema,
  vbd: vbdRecordSchema,
  vdi: vdiRecordSchema,
} as const;
type ClassName = keyof typeof CLASSES;
const API_NAMES: Record<ClassName, string> = { pool: 'pool', host: 'host', sr: 'SR', vm: 'VM', vbd: 'VBD', vdi: 'VDI' };

export interface InventoryDisk {
  vdiUuid: string;
  name: string;
  virtualSize: number;
  srUuid: string | null;
  userdevice: string;
  skipped: boolean;
}

export interface InventoryVm {
  ref: string;
  uuid: string;
  name: string;
  powerState: string;
  tags: string[];
  disks: InventoryDisk[];
  residentOn: string | null;
}

export interface InventorySnapshot {
  pool: { uuid: string; name: string; defaultSrUuid: string | null } | null;
  hosts: Array<{ uuid: string; name: string; address: string; version: string }>;
  srs: Array<{ uuid: string; name: string; type: string; size: number; used: number; shared: boolean }>;
  vms: InventoryVm[];
}

interface Tables {
  pool: Map<string, PoolRecord>;
  host: Map<string, HostRecord>;
  sr: Map<string, SrRecord>;
  vm: Map<string, VmRecord>;
  vbd: Map<string, VbdRecord>;
  vdi: Map<string, VdiRecord>;
}

/** Disks named with [NOBAK] are not backed up, as in Xen Orchestra. */
export const NOBAK_MARK = '[NOBAK]';

/**
 * The pool's inventory kept live: one load of every record we show, then event.from long-polls applying
 * adds, changes and deletions. Listeners get a fresh snapshot (debounced) after each batch.
 */
export class LiveInventory {
  private tables: Tables = {
    pool: new Map(),
    host: new Map(),
    sr: new Map(),
    vm: new Map(),
    vbd: new Map(),
    vdi: new Map(),
  };
  private token = '';
  private stopped = false;
  private debounce: NodeJS.Timeout | undefined;

  constructor(
    private readonly xapi: XapiSession,
    private readonly onChange: (s: InventorySnapshot) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  async start(): Promise<InventorySnapshot> {
    await this.reload();
    void this.watch();
    return this.snapshot();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    // The pending long-poll returns by its timeout or when the session closes.
  }

  private async reload(): Promise<void> {
    const tables = { ...this.tables };
    for (const cls of Object.keys(CLASSES) as ClassName[]) {
      const raw = (await this.xapi.call<Record<string, unknown>>(`${API_NAMES[cls]}.get_all_records`)) ?? {};
      const m = new Map();
      for (const [ref, rec] of Object.entries(raw)) {
        const p = CLASSES[cls].safeParse(rec);
        if (p.success) m.set(ref, p.data);
      }
      (tables as Record<ClassName, Map<string, unknown>>)[cls] = m;
    }
    this.tables = tables;
    // A fresh token from now on: events before this load are already in the tables.
    const r = await this.xapi.call<{ token: string }>('event.from', Object.keys(CLASSES), '', 0.1);
    this.token = r.token;
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      try {
        // 30.5 rather than 30: the host's parameter is a float, and a non-integer stays one on every encoding.
        const r = await this.xapi.call<{
          events: Array<{ class: string; operation: string; ref: string; snapshot?: unknown }>;
          token: string;
        }>('event.from', Object.keys(CLASSES), this.token, 30.5);
        this.token = r.token;
        if (this.stopped) return;
        let changed = false;
        for (const ev of r.events ?? []) {
          const cls = ev.class.toLowerCase() as ClassName;
          if (!(cls in CLASSES)) continue;
          const table = this.tables[cls] as Map<string, unknown>;
          if (ev.operation === 'del') changed = table.delete(ev.ref) || changed;
          else {
            const p = CLASSES[cls].safeParse(ev.snapshot);
            if (p.success) {
              table.set(ev.ref, p.data);
              changed = true;
            }
          }
        }
        if (changed) this.schedule();
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof XapiError && err.xapiCode === 'EVENTS_LOST') {
          await this.reload().catch((e) => this.onError(e));
          this.schedule();
          continue;
        }
        this.onError(err);
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }

  private schedule(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.onChange(this.snapshot());
    }, 200);
  }

  snapshot(): InventorySnapshot {
    const t = this.tables;
    const srUuid = (ref: string) => t.sr.get(ref)?.uuid ?? null;
    const pool = [...t.pool.values()][0];
    const vms: InventoryVm[] = [];
    for (const [ref, vm] of t.vm) {
      if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain) continue;
      const disks: InventoryDisk[] = [];
      for (const vbdRef of vm.VBDs) {
        const vbd = t.vbd.get(vbdRef);
        if (!vbd || vbd.type !== 'Disk' || vbd.VDI === NULL_REF) continue;
        const vdi = t.vdi.get(vbd.VDI);
        if (!vdi) continue;
        disks.push({
          vdiUuid: vdi.uuid,
          name: vdi.name_label,
          virtualSize: vdi.virtual_size,
          srUuid: srUuid(vdi.SR),
          userdevice: vbd.userdevice,
          skipped: vdi.name_label.includes(NOBAK_MARK),
        });
      }
      disks.sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
      vms.push({
        ref,
        uuid: vm.uuid,
        name: vm.name_label,
        powerState: vm.power_state,
        tags: vm.tags,
        disks,
        residentOn: vm.resident_on === NULL_REF ? null : (t.host.get(vm.resident_on)?.uuid ?? null),
      });
    }
    vms.sort((a, b) => a.name.localeCompare(b.name));
    return {
      pool: pool ? { uuid: pool.uuid, name: pool.name_label, defaultSrUuid: srUuid(pool.default_SR) } : null,
      hosts: [...t.host.values()].map((h) => ({
        uuid: h.uuid,
        name: h.name_label,
        address: h.address,
        version: h.software_version.product_version ?? '',
      })),
      srs: [...t.sr.values()]
        .filter((s) => s.content_type !== 'iso')
        .map((s) => ({
          uuid: s.uuid,
          name: s.name_label,
          type: s.type,
          size: s.physical_size,
          used: s.physical_utilisation,
          shared: s.shared,
        })),
      vms,
    };
  }
}
