import type { VmSelection } from '../../src-shared/contract/jobs.js';
import type { SelectedVm } from '../backup/vm-selection.js';
import { NO_BACKUP_TAG } from '../../src-shared/vm-tags.js';
import { SluiceError } from '../errors/sluice-error.js';
import { parseRecordMap, vmRecordSchema } from '../xapi/xapi-records.js';
import type { XapiSession } from '../xapi/xapi-session.js';

export interface JobVms {
  selected: SelectedVm[];
  /** Left out on purpose (tagged xo:no-bak), said in the run's warnings. */
  skipped: Array<{ uuid: string; name: string; reason: string }>;
  /** Picked by uuid but no longer on the pool: an error of the run, the others still backed up. */
  missing: string[];
}

/** A job's selection → the pool's VMs now (real VMs only: no templates, snapshots or control domains). */
export async function resolveJobVms(xapi: XapiSession, selection: VmSelection): Promise<JobVms> {
  const all = [...parseRecordMap(vmRecordSchema, await xapi.call('VM.get_all_records')).entries()].filter(
    ([, r]) => !r.is_a_template && !r.is_a_snapshot && !r.is_control_domain,
  );
  const out: JobVms = { selected: [], skipped: [], missing: [] };
  let candidates: typeof all;
  if (selection.kind === 'vms') {
    const wanted = selection.vmUuids.map((u) => u.toLowerCase());
    candidates = all.filter(([, r]) => wanted.includes(r.uuid.toLowerCase()));
    out.missing = wanted.filter((u) => !candidates.some(([, r]) => r.uuid.toLowerCase() === u));
  } else {
    const excluded = new Set(selection.excludeVmUuids.map((u) => u.toLowerCase()));
    candidates = all.filter(([, r]) => !excluded.has(r.uuid.toLowerCase()));
    if (selection.kind === 'tags')
      candidates = candidates.filter(([, r]) => r.tags.some((t) => selection.tags.includes(t)));
  }
  for (const [ref, record] of candidates.sort(([, a], [, b]) => a.name_label.localeCompare(b.name_label))) {
    if (record.tags.includes(NO_BACKUP_TAG))
      out.skipped.push({ uuid: record.uuid, name: record.name_label, reason: `it is tagged ${NO_BACKUP_TAG}` });
    else out.selected.push({ ref, uuid: record.uuid, name: record.name_label, record });
  }
  if (out.selected.length === 0 && out.missing.length === 0) {
    const what =
      selection.kind === 'vms'
        ? 'the VMs it names'
        : selection.kind === 'tags'
          ? `a VM tagged ${selection.tags.map((t) => `"${t}"`).join(' or ')}`
          : 'any VM of the pool';
    throw new SluiceError(
      'VALIDATION',
      `The job's selection matches no VM to back up: it asks for ${what}${out.skipped.length ? `, and ${out.skipped.length} of them are tagged ${NO_BACKUP_TAG}` : ''}.`,
      {
        hint: "Edit the job's VM selection (or the tags on the pool).",
        context: { field: 'vms' },
      },
    );
  }
  return out;
}
