import { SluiceError } from '../errors/sluice-error.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { XapiError } from '../xapi/xapi-error.js';
import { NULL_REF, poolRecordSchema, srRecordSchema, type SrRecord } from '../xapi/xapi-records.js';

export interface TargetSr {
  ref: string;
  record: SrRecord;
  freeBytes: number;
}

/** The SR a restore writes to: the one named by uuid, else the pool's default SR. */
export async function resolveTargetSr(
  xapi: XapiSession,
  srUuid: string | undefined,
  context: Record<string, string>,
): Promise<TargetSr> {
  let ref: string;
  if (srUuid) {
    try {
      ref = await xapi.call<string>('SR.get_by_uuid', srUuid);
    } catch (err) {
      if (err instanceof XapiError && err.xapiCode === 'UUID_INVALID') {
        throw new SluiceError('NOT_FOUND', `The pool has no SR with uuid ${srUuid}.`, {
          hint: "Give the uuid of one of the pool's SRs (xe sr-list), or leave --sr out for the pool's default SR.",
          context,
        });
      }
      throw err;
    }
  } else {
    const pools = await xapi.call<Record<string, unknown>>('pool.get_all_records');
    const pool = poolRecordSchema.parse(Object.values(pools)[0]);
    if (pool.default_SR === NULL_REF) {
      throw new SluiceError(
        'VALIDATION',
        'The pool has no default SR, so the restore does not know where to put the disks.',
        { hint: 'Choose an SR with --sr UUID.', context },
      );
    }
    ref = pool.default_SR;
  }
  const record = srRecordSchema.parse(await xapi.call('SR.get_record', ref));
  return { ref, record, freeBytes: Math.max(0, record.physical_size - record.physical_utilisation) };
}
