import { NULL_REF, vbdRecordSchema, vdiRecordSchema } from '../xapi/xapi-records.js';
import type { XapiSession } from '../xapi/xapi-session.js';

/** An XVA carries each MiB of data as a chunk with a tar header, and an XXH64 file with its own header. */
const XVA_BYTES_PER_MIB = 1024 * 1024 + 3 * 512 + 16;
/** Each disk's first and last chunks go even when they hold only zeros; ova.xml is a few KiB. */
const XVA_BYTES_PER_DISK = 2 * XVA_BYTES_PER_MIB;
const OVA_XML_BYTES = 64 * 1024;

/**
 * What an uncompressed XVA export of the VM will carry, estimated from its disks' allocation
 * (`physical_utilisation`: the data they hold on their SR): the host's /export sends no length, and the disks'
 * virtual sizes would be a total no export ever reaches. An estimate only: a thin SR's allocation can include
 * blocks of zeros the export leaves out, or the metadata of the SR's own format. null when no disk tells.
 */
export async function estimateXvaBytes(xapi: XapiSession, vmRef: string): Promise<number | null> {
  let allocated = 0;
  let disks = 0;
  for (const vbdRef of await xapi.call<string[]>('VM.get_VBDs', vmRef)) {
    const vbd = vbdRecordSchema.parse(await xapi.call('VBD.get_record', vbdRef));
    if (vbd.type !== 'Disk' || vbd.empty || vbd.VDI === NULL_REF) continue;
    allocated += vdiRecordSchema.parse(await xapi.call('VDI.get_record', vbd.VDI)).physical_utilisation;
    disks++;
  }
  if (allocated === 0) return null;
  return Math.ceil((allocated / (1024 * 1024)) * XVA_BYTES_PER_MIB) + disks * XVA_BYTES_PER_DISK + OVA_XML_BYTES;
}
