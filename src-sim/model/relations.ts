import type { XapiClass } from './classes.js';

/**
 * A one-to-many relation: `owner.setField` lists the objects of `member` whose `refField` points at owner.
 * XAPI keeps both sides consistent; the simulator stores only the pointer side and derives the set, so the
 * two can never disagree (a VM.destroy that forgets VM.VBDs is impossible).
 */
export interface Relation {
  readonly member: XapiClass;
  readonly refField: string;
  readonly owner: XapiClass;
  readonly setField: string;
}

export const RELATIONS: readonly Relation[] = [
  { member: 'VBD', refField: 'VM', owner: 'VM', setField: 'VBDs' },
  { member: 'VIF', refField: 'VM', owner: 'VM', setField: 'VIFs' },
  { member: 'VTPM', refField: 'VM', owner: 'VM', setField: 'VTPMs' },
  { member: 'VM', refField: 'snapshot_of', owner: 'VM', setField: 'snapshots' },
  { member: 'VM', refField: 'resident_on', owner: 'host', setField: 'resident_VMs' },
  { member: 'VBD', refField: 'VDI', owner: 'VDI', setField: 'VBDs' },
  { member: 'VDI', refField: 'snapshot_of', owner: 'VDI', setField: 'snapshots' },
  { member: 'VDI', refField: 'SR', owner: 'SR', setField: 'VDIs' },
  { member: 'PBD', refField: 'SR', owner: 'SR', setField: 'PBDs' },
  { member: 'PBD', refField: 'host', owner: 'host', setField: 'PBDs' },
  { member: 'VIF', refField: 'network', owner: 'network', setField: 'VIFs' },
  { member: 'PIF', refField: 'network', owner: 'network', setField: 'PIFs' },
  { member: 'PIF', refField: 'host', owner: 'host', setField: 'PIFs' },
  { member: 'task', refField: 'subtask_of', owner: 'task', setField: 'subtasks' },
];

export function relationsOwnedBy(cls: XapiClass): readonly Relation[] {
  return RELATIONS.filter((r) => r.owner === cls);
}

export function relationsFrom(cls: XapiClass): readonly Relation[] {
  return RELATIONS.filter((r) => r.member === cls);
}
