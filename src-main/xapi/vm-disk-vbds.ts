import { NULL_REF, vbdRecordSchema, type VbdRecord } from './xapi-records.js';
import type { XapiSession } from './xapi-session.js';

/** A VM's (or snapshot's) disk VBDs that hold a VDI, in the host's order: CD drives and empty slots left out. */
export async function diskVbdsOf(xapi: XapiSession, vmRef: string): Promise<Array<{ ref: string; vbd: VbdRecord }>> {
  const out: Array<{ ref: string; vbd: VbdRecord }> = [];
  for (const ref of await xapi.call<string[]>('VM.get_VBDs', vmRef)) {
    const vbd = vbdRecordSchema.parse(await xapi.call('VBD.get_record', ref));
    if (vbd.type === 'Disk' && vbd.VDI !== NULL_REF) out.push({ ref, vbd });
  }
  return out;
}
