import { buildOvaXml, type OvaObject } from '../formats/ova-xml.js';
import type { VirtualDisk } from '../disk/virtual-disk.js';
import { toXmlRpcWire } from '../rpc/wire.js';
import type { XapiClass } from './classes.js';
import { str, strList } from './lookup.js';
import type { PoolState } from './pool-state.js';
import { NULL_REF } from './refs.js';
import type { XapiStruct, XapiValue } from './values.js';

// ova.xml of an export: the VM with its VBDs, VDIs, their SRs, VIFs and their networks, each under a local
// id "Ref:<n>". References between exported objects are rewritten to those ids; references to anything
// else become OpaqueRef:NULL, and sets keep only exported members. An exported snapshot appears as a
// normal halted VM.

export interface XvaPlan {
  ovaXml: string;
  disks: { ref: string; disk: VirtualDisk }[];
  /** Sum of the disks' virtual sizes: the denominator of task progress. */
  totalBytes: number;
}

export function planXvaExport(state: PoolState, vm: string, withDisks: boolean): XvaPlan {
  const { store } = state;
  const ids = new Map<string, string>();
  const order: Array<{ cls: XapiClass; ref: string }> = [];
  const include = (cls: XapiClass, ref: string): void => {
    if (ref === NULL_REF || ids.has(ref) || !store.has(cls, ref)) return;
    ids.set(ref, `Ref:${ids.size}`);
    order.push({ cls, ref });
  };

  include('VM', vm);
  const vmRecord = store.record('VM', vm)!;
  for (const vbd of strList(vmRecord, 'VBDs')) {
    include('VBD', vbd);
    const vdi = str(store.fields('VBD', vbd)!, 'VDI');
    include('VDI', vdi);
    if (store.has('VDI', vdi)) include('SR', str(store.fields('VDI', vdi)!, 'SR'));
  }
  for (const vif of strList(vmRecord, 'VIFs')) {
    include('VIF', vif);
    include('network', str(store.fields('VIF', vif)!, 'network'));
  }

  const rewrite = (value: XapiValue): XapiValue => {
    if (typeof value === 'string' && value.startsWith('OpaqueRef:')) return ids.get(value) ?? NULL_REF;
    if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v.startsWith('OpaqueRef:'))) {
      return (value as string[]).filter((v) => ids.has(v)).map((v) => ids.get(v)!);
    }
    return value;
  };
  const objects: OvaObject[] = order.map(({ cls, ref }) => {
    const record: Record<string, XapiValue> = {};
    for (const [key, value] of Object.entries(store.record(cls, ref)!)) record[key] = rewrite(value);
    if (cls === 'VM') Object.assign(record, asPlainVm(record));
    return { class: cls, id: ids.get(ref)!, snapshot: toXmlRpcWire(record) as Record<string, unknown> };
  });

  const disks = withDisks
    ? order
        .filter((o) => o.cls === 'VDI' && state.disks.get(o.ref))
        .map((o) => ({ ref: ids.get(o.ref)!, disk: state.disks.get(o.ref)! }))
    : [];
  const host = store.fields('host', state.coordinatorRef)!;
  const software = host['software_version'] as Record<string, string>;
  const ovaXml = buildOvaXml({
    version: {
      hostname: str(host, 'hostname'),
      date: software['date'] ?? '',
      product_version: software['product_version'] ?? '',
      product_brand: software['product_brand'] ?? '',
      build_number: software['build_number'] ?? '',
      xapi_major: host['API_version_major'] as number,
      xapi_minor: host['API_version_minor'] as number,
      export_vsn: 2,
    },
    objects,
  });
  return { ovaXml, disks, totalBytes: disks.reduce((sum, d) => sum + d.disk.size, 0) };
}

function asPlainVm(record: XapiStruct): XapiStruct {
  if (record['is_a_snapshot'] !== true) return {};
  return { is_a_snapshot: false, is_a_template: false, snapshot_of: NULL_REF, power_state: 'Halted' };
}
