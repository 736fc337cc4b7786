import type { XapiSession } from '../xapi/xapi-session.js';
import type { BackupRunOptions } from './backup-options.js';
import { longTermTags } from '../repository/index.js';

// Fields Xen Orchestra writes in every point's metadata, with real values, so that XO's own retention and
// listing treat Sluice's points as it treats its own (XO counts retention per schedule and mode, lists
// `tags`, and restores a delta's virtual TPMs from `vtpms`).

/**
 * The schedule a point belongs to. A run without a schedule (a CLI run, "Back up now", a job run by hand)
 * still gets one of its own, stable for its job: XO's retention counts per schedule id, and an empty one is
 * a schedule no retention ever rotates.
 */
export function scheduleIdOf(opts: Pick<BackupRunOptions, 'jobId' | 'scheduleId'>): string {
  return opts.scheduleId ?? `${opts.jobId}.unscheduled`;
}

/**
 * XO's `tags`: the long-term buckets of this point in the schedule's zone (`daily=2026-12-04`…), an empty list
 * without long-term retention. For display, as in XO: retention reads the time stamp.
 */
export function longTermTagsOf(opts: Pick<BackupRunOptions, 'retention'>, when: Date): string[] {
  const policy = opts.retention;
  if (!policy?.longTerm) return [];
  const keys = longTermTags(when, policy.timeZone);
  return (Object.keys(keys) as Array<keyof typeof keys>)
    .filter((bucket) => (policy.longTerm?.[bucket] ?? 0) > 0)
    .map((bucket) => `${bucket}=${keys[bucket]}`);
}

/**
 * XO's `vtpms`: the contents of each virtual TPM of the exported VM (VTPM.get_contents), null where the host
 * would not give them, so that a restore can give the VM its TPM back.
 */
export async function vtpmContents(xapi: XapiSession, snapRecord: Record<string, unknown>): Promise<unknown[]> {
  const refs = (snapRecord['VTPMs'] as string[] | undefined) ?? [];
  const out: unknown[] = [];
  for (const ref of refs) out.push(await xapi.call<unknown>('VTPM.get_contents', ref).catch(() => null));
  return out;
}
