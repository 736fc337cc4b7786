import { z } from 'zod';
import type { XapiSession } from './xapi-session.js';
import { NULL_REF, parseRecordMap, vbdRecordSchema } from './xapi-records.js';
import { currentOwner, ownerIn, ownerIsDead, type RunOwner } from './run-owner.js';

/**
 * other_config key on every VM and VDI a restore makes, from the moment it exists until the restore has
 * finished. A restore that is killed (kill -9, a power cut) cannot remove its half-made VM and disks, and the
 * host would keep them for good, looking like a restored VM; the next restore or backup on the pool knows
 * them by this mark and whether their process lives. A finished restore removes the mark: the VM is then the
 * admin's, and no later run may touch it.
 */
export const MADE_BY_KEY = 'sluice:made-by';

export type MadeClass = 'VM' | 'VDI';

export function madeByEntry(runId: string): Record<string, string> {
  return { [MADE_BY_KEY]: JSON.stringify(currentOwner(runId)) };
}

export async function markMadeBy(xapi: XapiSession, cls: MadeClass, ref: string, runId: string): Promise<void> {
  // A copy (VDI.copy carries other_config over) or an imported VM may bring a mark already: ours replaces it.
  await unmarkMadeBy(xapi, cls, ref);
  await xapi.call(`${cls}.add_to_other_config`, ref, MADE_BY_KEY, JSON.stringify(currentOwner(runId)));
}

export async function unmarkMadeBy(xapi: XapiSession, cls: MadeClass, ref: string): Promise<void> {
  await xapi.call(`${cls}.remove_from_other_config`, ref, MADE_BY_KEY);
}

const markedSchema = z.object({ other_config: z.record(z.string(), z.string()).default({}) }).passthrough();

/**
 * Removes a VM (halted first) with the disks attached to it, or a VDI, whichever `ref` is; true when the VM
 * or VDI itself went. For what a dead run made and never handed over: an import's VM comes with disks
 * nothing else uses, and a restore's VM is marked until after its disks are unmarked (`CreatedObjects.keep`),
 * so a kill between the two leaves a marked VM whose disks no longer say whose they are.
 */
export async function destroyMadeObject(xapi: XapiSession, ref: string): Promise<boolean> {
  const destroyed = (call: Promise<unknown>) =>
    call.then(
      () => true,
      () => false,
    );
  const vbds = await xapi.call<string[]>('VM.get_VBDs', ref).catch(() => undefined);
  if (vbds === undefined) return destroyed(xapi.call('VDI.destroy', ref));
  await xapi.call('VM.hard_shutdown', ref).catch(() => {});
  const disks: string[] = [];
  for (const vbd of vbds) {
    const r = vbdRecordSchema.safeParse(await xapi.call('VBD.get_record', vbd).catch(() => undefined));
    if (r.success && r.data.type === 'Disk' && r.data.VDI !== NULL_REF) disks.push(r.data.VDI);
  }
  const vmGone = await destroyed(xapi.call('VM.destroy', ref));
  if (vmGone) for (const vdi of disks) await xapi.call('VDI.destroy', vdi).catch(() => {});
  return vmGone;
}

/**
 * Destroys the VMs (with their disks), then the VDIs, marked as made by a run whose process `isDead` says is
 * gone. Returns how many marked objects were removed; one the host refuses to remove stays marked for the
 * next run.
 */
export async function destroyDeadRunObjects(
  xapi: XapiSession,
  isDead: (owner: RunOwner) => boolean = ownerIsDead,
): Promise<number> {
  let n = 0;
  for (const cls of ['VM', 'VDI'] as const) {
    const records = parseRecordMap(markedSchema, await xapi.call(`${cls}.get_all_records`));
    for (const [ref, record] of records) {
      const owner = ownerIn(record.other_config, MADE_BY_KEY);
      if (owner && isDead(owner) && (await destroyMadeObject(xapi, ref))) n++;
    }
  }
  return n;
}
