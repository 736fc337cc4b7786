import type { VirtualDisk } from '../disk/virtual-disk.js';
import type { OvaXml } from '../formats/ova-xml.js';
import type { XapiClass } from './classes.js';
import type { PoolState } from './pool-state.js';
import { recordFromInput } from './record-input.js';
import { NULL_REF, newUuid } from './refs.js';
import type { XapiValue } from './values.js';
import { XapiError } from './xapi-error.js';

// PUT /import: the objects of ova.xml become new objects of the pool, on the chosen SR. Networks are matched
// by name (then bridge) or created; links between imported objects follow their "Ref:<n>" ids. Other classes
// (VTPM, VGPU…) carry nothing the simulator restores.

export interface ImportedObjects {
  vms: string[];
  /** "Ref:<n>" of each VDI in the archive → the disk its chunks are written to. */
  disks: Map<string, VirtualDisk>;
  vdis: string[];
  /** Removes everything created, for an import that failed. */
  rollback(): Promise<void>;
}

export function createObjectsFromOva(
  state: PoolState,
  ova: OvaXml,
  sr: string,
  opts: { restore: boolean },
): ImportedObjects {
  const { store } = state;
  const byClass = (cls: string): OvaXml['objects'] => ova.objects.filter((o) => o.class === cls);

  const vdiObjects = byClass('VDI');
  const needed = vdiObjects.reduce((sum, o) => sum + Number(o.snapshot['virtual_size'] ?? 0), 0);
  if (needed > state.srFreeSpace(sr))
    throw new XapiError('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', '']);

  const ids = new Map<string, string>();
  for (const o of byClass('SR')) ids.set(o.id, sr);
  const created: Array<{ cls: XapiClass; ref: string }> = [];
  const add = (cls: XapiClass, id: string, fields: Record<string, XapiValue>): string => {
    const ref = store.add(cls, fields);
    ids.set(id, ref);
    created.push({ cls, ref });
    return ref;
  };
  const relink = (cls: XapiClass, snapshot: Record<string, unknown>): Record<string, XapiValue> => {
    const fields = recordFromInput(cls, snapshot, true);
    for (const [key, value] of Object.entries(fields)) {
      if (typeof value === 'string' && /^(Ref|OpaqueRef):/.test(value)) fields[key] = ids.get(value) ?? NULL_REF;
      else if (
        Array.isArray(value) &&
        value.length > 0 &&
        value.every((v) => typeof v === 'string' && /^(Ref|OpaqueRef):/.test(v))
      ) {
        fields[key] = (value as string[]).map((v) => ids.get(v)).filter((v): v is string => v !== undefined);
      }
    }
    return fields;
  };

  for (const o of byClass('network')) {
    const name = String(o.snapshot['name_label'] ?? '');
    const bridge = String(o.snapshot['bridge'] ?? '');
    const existing =
      store.find('network', (f) => f['name_label'] === name)[0] ??
      store.find('network', (f) => bridge !== '' && f['bridge'] === bridge)[0];
    if (existing) ids.set(o.id, existing);
    else add('network', o.id, relink('network', o.snapshot));
  }

  const disks = new Map<string, VirtualDisk>();
  const vdis: string[] = [];
  for (const o of vdiObjects) {
    const fields = relink('VDI', o.snapshot);
    const size = fields['virtual_size'] as number;
    const uuid = newUuid();
    const ref = add('VDI', o.id, {
      ...fields,
      uuid,
      location: uuid,
      SR: sr,
      is_a_snapshot: false,
      snapshot_of: NULL_REF,
      parent: NULL_REF,
      physical_utilisation: 0,
      cbt_enabled: false,
    });
    disks.set(o.id, state.disks.create(ref, size, 0));
    vdis.push(ref);
  }

  const vms: string[] = [];
  for (const o of byClass('VM')) {
    const fields = relink('VM', o.snapshot);
    const uuid = String(o.snapshot['uuid'] ?? '');
    const keepUuid = opts.restore && uuid !== '' && store.find('VM', (f) => f['uuid'] === uuid).length === 0;
    vms.push(
      add('VM', o.id, {
        ...fields,
        uuid: keepUuid ? uuid : newUuid(),
        power_state: 'Halted',
        resident_on: NULL_REF,
        domid: -1,
        is_a_snapshot: false,
        snapshot_of: NULL_REF,
        parent: NULL_REF,
        is_control_domain: false,
      }),
    );
  }
  for (const o of byClass('VBD')) {
    const fields = relink('VBD', o.snapshot);
    if (fields['VM'] === NULL_REF || fields['VM'] === undefined) continue;
    add('VBD', o.id, { ...fields, empty: (fields['VDI'] ?? NULL_REF) === NULL_REF, currently_attached: false });
  }
  for (const o of byClass('VIF')) {
    const fields = relink('VIF', o.snapshot);
    if (fields['VM'] === NULL_REF || fields['VM'] === undefined) continue;
    add('VIF', o.id, { ...fields, currently_attached: false });
  }

  return {
    vms,
    disks,
    vdis,
    rollback: async () => {
      for (const { cls, ref } of created.reverse()) store.remove(cls, ref);
      await Promise.all(vdis.map((vdi) => state.disks.destroy(vdi)));
    },
  };
}
