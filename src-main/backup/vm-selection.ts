import { NO_BACKUP_TAG } from '../../src-shared/vm-tags.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { parseRecordMap, vmRecordSchema, type VmRecord } from '../xapi/xapi-records.js';

export interface SelectedVm {
  ref: string;
  uuid: string;
  name: string;
  record: VmRecord;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Names or uuids → VMs of the pool (real VMs only: no templates, snapshots or dom0). A name that matches
 * several VMs is refused rather than guessed; VMs tagged xo:no-bak are skipped, and said so.
 */
export async function resolveVms(
  xapi: XapiSession,
  wanted: string[],
): Promise<{ selected: SelectedVm[]; skipped: Array<{ name: string; reason: string }> }> {
  const all = parseRecordMap(vmRecordSchema, await xapi.call('VM.get_all_records'));
  const vms = [...all.entries()].filter(([, r]) => !r.is_a_template && !r.is_a_snapshot && !r.is_control_domain);
  const selected: SelectedVm[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  for (const w of wanted) {
    const matches = UUID.test(w)
      ? vms.filter(([, r]) => r.uuid.toLowerCase() === w.toLowerCase())
      : vms.filter(([, r]) => r.name_label === w);
    if (matches.length === 0) {
      const close = vms
        .filter(([, r]) => r.name_label.toLowerCase().includes(w.toLowerCase()))
        .map(([, r]) => r.name_label);
      throw new SluiceError('NOT_FOUND', `No VM named or with uuid "${w}" on this pool.`, {
        hint: close.length
          ? `Did you mean: ${close
              .slice(0, 5)
              .map((n) => `"${n}"`)
              .join(', ')}?`
          : "List the pool's VMs in the app, or with `xe vm-list` on the host.",
        context: { vm: w },
      });
    }
    if (matches.length > 1) {
      throw new SluiceError('CONFLICT', `${matches.length} VMs are named "${w}".`, {
        hint: `Use a uuid instead: ${matches.map(([, r]) => r.uuid).join(', ')}.`,
        context: { vm: w },
      });
    }
    const [ref, record] = matches[0]!;
    if (selected.some((s) => s.ref === ref)) continue;
    if (record.tags.includes(NO_BACKUP_TAG)) {
      skipped.push({ name: record.name_label, reason: `it is tagged ${NO_BACKUP_TAG}` });
      continue;
    }
    selected.push({ ref, uuid: record.uuid, name: record.name_label, record });
  }
  return { selected, skipped };
}
