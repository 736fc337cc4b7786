import { ovaDisks, parseOvaXml } from '../formats/ova-xml.js';
import type { XvaStreamProgress } from '../formats/xva/xva-stream-verifier.js';
import { NOBAK_MARK } from '../xapi/live-inventory.js';
import { diskVbdsOf } from '../xapi/vm-disk-vbds.js';
import { vdiRecordSchema } from '../xapi/xapi-records.js';
import type { XapiSession } from '../xapi/xapi-session.js';

const MiB = 1024 * 1024;
/** An XVA carries each MiB of data as a chunk with a tar header, and an XXH64 file with its own header. */
const XVA_BYTES_PER_MIB = MiB + 3 * 512 + 16;
/** Each disk's first and last chunks go even when they hold only zeros. */
const XVA_BYTES_PER_DISK = 2 * XVA_BYTES_PER_MIB;
/** ova.xml is a few KiB; the archive ends with two zero blocks. */
const OVA_XML_BYTES = 64 * 1024;
const END_OF_ARCHIVE = 1024;

const VHD_BLOCK = 2 * MiB;

/**
 * What a VHD export of a disk (full or differencing) should carry, from its allocation: the VHD's blocks
 * that hold data, each with its bitmap, no more than the whole disk, plus the VHD's own structures. A
 * differencing export carries only the blocks changed since its base, a subset of those.
 */
export function estimateVhdExportBytes(virtualSize: number, allocated: number): number {
  const blocks = Math.ceil(virtualSize / VHD_BLOCK);
  const structures = 512 + 1024 + Math.ceil((4 * blocks) / 512) * 512 + 512;
  return structures + Math.min(Math.max(0, allocated), blocks * (VHD_BLOCK + 512));
}

/** One disk of the VM: where it is plugged, how big it is, and what its SR says it takes. */
export interface DiskAllocation {
  /** The VBD's userdevice, the same on the VM and on its snapshot. */
  position: string;
  virtualSize: number;
  /** `physical_utilisation`: what the disk takes on its SR, in the SR's own format. */
  allocated: number;
}

const xvaBytesOf = (dataBytes: number) => Math.ceil(Math.max(0, dataBytes) / MiB) * XVA_BYTES_PER_MIB;

/** What is still to come of a disk the stream has not reached: its allocation, no more than its size. */
const unstartedBytes = (d: DiskAllocation) => xvaBytesOf(Math.min(d.allocated, d.virtualSize)) + XVA_BYTES_PER_DISK;

/**
 * What an uncompressed XVA export of the VM will carry: the host's /export sends no length. It starts from the
 * disks' allocation (their virtual sizes would be a total no export reaches) and is narrowed as the stream
 * shows each disk: what a disk still sends is at most what its allocation has left and at most the part of the
 * disk the stream has not passed. A thick SR's allocation is the whole disk and the export leaves out its
 * zeros, so the figure comes down as the host skips them; it never goes up, so a bar on it never goes back.
 * When the stream carries more than the allocation said, the sampler says the estimate was exceeded.
 */
export class XvaSizeEstimate {
  private constructor(private readonly disks: DiskAllocation[]) {}

  /** undefined when no disk tells its allocation. The disks left out by name are not in the export. */
  static async of(xapi: XapiSession, vmRef: string): Promise<XvaSizeEstimate | undefined> {
    const disks: DiskAllocation[] = [];
    for (const { vbd } of await diskVbdsOf(xapi, vmRef)) {
      if (vbd.empty) continue;
      const vdi = vdiRecordSchema.parse(await xapi.call('VDI.get_record', vbd.VDI));
      if (vdi.name_label.includes(NOBAK_MARK)) continue;
      disks.push({ position: vbd.userdevice, virtualSize: vdi.virtual_size, allocated: vdi.physical_utilisation });
    }
    return disks.some((d) => d.allocated > 0) ? new XvaSizeEstimate(disks) : undefined;
  }

  /** Before the stream: from the allocation alone. */
  get initial(): number {
    return OVA_XML_BYTES + this.disks.reduce((n, d) => n + unstartedBytes(d), 0) + END_OF_ARCHIVE;
  }

  /** A follower of one attempt's stream: each call, the total from what the stream has shown so far. */
  follow(progress: () => XvaStreamProgress): () => number {
    let last = this.initial;
    /** The stream's name (`Ref:3`) of the disk plugged at each position, from ova.xml once it has passed. */
    let refAt: Map<string, string> | undefined;
    return () => {
      const now = progress();
      if (now.ovaXml === undefined) return last;
      refAt ??= new Map(ovaDisks(parseOvaXml(now.ovaXml).objects).map((d) => [d.position, d.id]));
      last = Math.min(last, now.bytesSeen + this.ahead(now, refAt) + END_OF_ARCHIVE);
      return last;
    };
  }

  private ahead(now: XvaStreamProgress, refAt: Map<string, string>): number {
    let ahead = 0;
    for (const disk of this.disks) {
      const ref = refAt.get(disk.position);
      const seen = ref === undefined ? undefined : now.disks.find((d) => d.ref === ref);
      if (!seen) {
        ahead += unstartedBytes(disk);
        continue;
      }
      const notPassed = disk.virtualSize - seen.lastOffset;
      if (notPassed <= 0) continue;
      // The host sends a disk's last chunk even when it holds only zeros.
      ahead += xvaBytesOf(Math.min(notPassed, disk.allocated - seen.dataBytes)) + XVA_BYTES_PER_MIB;
    }
    return ahead;
  }
}
