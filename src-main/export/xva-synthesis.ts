import { xxhashApi } from '../formats/vhd/vhd-block-digests.js';
import type { VhdChainReader } from '../formats/vhd/vhd-chain-reader.js';
import { encodeXmlRpcValue } from '../formats/ova-xml.js';
import { tarEnd, tarEntry } from '../formats/tar/tar-writer.js';
import type { DeltaMetadata, DeltaPointDisk } from '../repository/index.js';

// An XVA made from an incremental point, streamed: ova.xml built from the metadata's records (the snapshot
// shown as a plain halted VM, as xapi exports a snapshot), then each disk in 1 MiB chunks read from its VHD
// chain, each followed by its XXH64 checksum entry; all-zero chunks are left out except a disk's first and
// last (xapi's rule: a reader counts the gap), then the two end blocks. Importable by XCP-ng / XenServer.

type Rec = Record<string, unknown>;
const CHUNK = 1024 * 1024;
const NULL_REF = 'OpaqueRef:NULL';

interface OvaObject {
  class: string;
  id: string;
  snapshot: Rec;
}

/** The archive's reference ("Ref:N") of each object, numbered in this order: VM, SRs, networks, VDIs, VBDs, VIFs. */
interface OvaRefs {
  vm: string;
  /** By SR uuid (or ref, when the metadata has no uuid). */
  srs: Map<string, string>;
  /** By network uuid (or ref). */
  networks: Map<string, string>;
  /** A disk's VDI by the disk's key. */
  vdis: Map<string, string>;
  vbds: string[];
  vifs: string[];
}

const srOf = (d: DeltaPointDisk) => String(d.vdi['$SR$uuid'] ?? d.vdi['SR'] ?? 'sr');
const networkOf = (v: Rec) => String(v['$network$uuid'] ?? v['network'] ?? 'net');

export function buildOvaXml(
  meta: DeltaMetadata,
  disks: DeltaPointDisk[],
  now = new Date(),
): { xml: string; diskIds: Map<string, string> } {
  const vifs = Array.isArray(meta.vifs) ? meta.vifs : Object.values(meta.vifs);
  const refs = numberRefs(disks, vifs);
  const objects: OvaObject[] = [
    vmObject(meta, refs),
    ...disks.flatMap((d, i) => diskObjects(d, i, refs)),
    ...[...refs.srs].map(([uuid, id]) => ({ class: 'SR', id, snapshot: { uuid, name_label: '', VDIs: [] } })),
    ...vifs.map((v, i) => ({
      class: 'VIF',
      id: refs.vifs[i]!,
      snapshot: { ...foreign(v), VM: refs.vm, network: refs.networks.get(networkOf(v))! },
    })),
    ...networkObjects(vifs, refs),
  ];
  const version = {
    hostname: 'sluice',
    date: now.toISOString().slice(0, 10),
    product_version: '',
    product_brand: 'Sluice',
    build_number: '',
    xapi_major: 2,
    xapi_minor: 0,
    export_vsn: 2,
  };
  return { xml: encodeXmlRpcValue({ version, objects }), diskIds: refs.vdis };
}

function numberRefs(disks: DeltaPointDisk[], vifs: Rec[]): OvaRefs {
  const ids = new Map<string, string>();
  const idOf = (key: string) => {
    if (!ids.has(key)) ids.set(key, `Ref:${ids.size}`);
    return ids.get(key)!;
  };
  const vm = idOf('vm');
  const srs = new Map<string, string>();
  const networks = new Map<string, string>();
  for (const d of disks) {
    const sr = srOf(d);
    if (!srs.has(sr)) srs.set(sr, idOf(`sr:${sr}`));
  }
  for (const v of vifs) {
    const net = networkOf(v);
    if (!networks.has(net)) networks.set(net, idOf(`net:${net}`));
  }
  const vdis = new Map(disks.map((d) => [d.key, idOf(`vdi:${d.key}`)]));
  const vbds = disks.map((d) => idOf(`vbd:${d.key}`));
  const vifIds = vifs.map((_, i) => idOf(`vif:${i}`));
  return { vm, srs, networks, vdis, vbds, vifs: vifIds };
}

/** References to objects not in the archive mean nothing to the importing host. */
function foreign(r: Rec): Rec {
  const out: Rec = {};
  for (const [k, v] of Object.entries(r)) {
    if (k.startsWith('$')) continue;
    if (typeof v === 'string' && v.startsWith('OpaqueRef:')) out[k] = NULL_REF;
    else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.startsWith('OpaqueRef:')))
      out[k] = [];
    else out[k] = v;
  }
  return out;
}

function vmObject(meta: DeltaMetadata, refs: OvaRefs): OvaObject {
  return {
    class: 'VM',
    id: refs.vm,
    snapshot: {
      ...foreign(meta.vmSnapshot),
      name_label: String(meta.vm['name_label'] ?? meta.vmSnapshot['name_label'] ?? ''),
      is_a_snapshot: false,
      is_a_template: false,
      power_state: 'Halted',
      VBDs: refs.vbds,
      VIFs: refs.vifs,
    },
  };
}

/** The `i`th disk's VBD, then its VDI. */
function diskObjects(d: DeltaPointDisk, i: number, refs: OvaRefs): OvaObject[] {
  const vdi = refs.vdis.get(d.key)!;
  return [
    {
      class: 'VBD',
      id: refs.vbds[i]!,
      snapshot: { ...foreign(d.vbd ?? {}), VM: refs.vm, VDI: vdi, userdevice: d.position, type: 'Disk', empty: false },
    },
    {
      class: 'VDI',
      id: vdi,
      snapshot: {
        ...foreign(d.vdi),
        SR: refs.srs.get(srOf(d))!,
        VBDs: [refs.vbds[i]!],
        virtual_size: d.virtualSize,
        is_a_snapshot: false,
      },
    },
  ];
}

/** One network object per distinct network the VIFs are on. */
function networkObjects(vifs: Rec[], refs: OvaRefs): OvaObject[] {
  const out: OvaObject[] = [];
  for (const v of vifs) {
    const net = networkOf(v);
    const id = refs.networks.get(net)!;
    if (out.some((o) => o.id === id)) continue;
    out.push({
      class: 'network',
      id,
      snapshot: {
        uuid: net.startsWith('OpaqueRef:') ? '' : net,
        name_label: String(v['$network$name_label'] ?? ''),
        VIFs: [],
      },
    });
  }
  return out;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += 8) if (b.readBigUInt64LE(Math.min(i, b.length - 8)) !== 0n) return false;
  return true;
}

/** The XVA's bytes, in order. */
export async function* xvaFromChains(
  meta: DeltaMetadata,
  disks: Array<{ disk: DeltaPointDisk; chain: VhdChainReader }>,
): AsyncGenerator<Buffer> {
  const xxh = await xxhashApi();
  const { xml, diskIds } = buildOvaXml(
    meta,
    disks.map((d) => d.disk),
  );
  yield* tarEntry('ova.xml', Buffer.from(xml, 'utf8'));
  for (const { disk, chain } of disks) {
    const ref = diskIds.get(disk.key)!;
    const count = Math.ceil(chain.size / CHUNK);
    const present = new Set(chain.presentBlocks());
    const perBlock = chain.blockSize / CHUNK;
    let block: Buffer | undefined;
    let blockIndex = -1;
    for (let n = 0; n < count; n++) {
      const bi = Math.floor(n / perBlock);
      const first = n === 0;
      const last = n === count - 1;
      if (!present.has(bi) && !first && !last) continue;
      if (bi !== blockIndex) {
        block = await chain.readBlock(bi);
        blockIndex = bi;
      }
      const from = (n % perBlock) * CHUNK;
      const length = Math.min(CHUNK, chain.size - n * CHUNK);
      const data = block!.subarray(from, from + length);
      if (!first && !last && isZero(data)) continue;
      const name = `${ref}/${String(n).padStart(8, '0')}`;
      yield* tarEntry(name, data);
      yield* tarEntry(
        `${name}.xxhash`,
        Buffer.from(xxh.h64Raw(data).toString(16).padStart(16, '0').toUpperCase(), 'latin1'),
      );
    }
  }
  yield tarEnd();
}
