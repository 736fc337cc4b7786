import { requireObject, str } from './lookup.js';
import type { PoolState } from './pool-state.js';
import { NULL_REF, newUuid } from './refs.js';
import { snapshotVdi } from './vdi-operations.js';
import { XapiError } from './xapi-error.js';

// VM lifecycle as far as a backup tool sees it: snapshot, destroy, and power changes for "start after
// restore". Checks and error codes follow a real host.

const lower = (state: string): string => state.toLowerCase();

function assertNotSystem(state: PoolState, vm: string, operation: string): void {
  const f = requireObject(state.store, 'VM', vm);
  if (f['is_control_domain'] === true)
    throw new XapiError('OPERATION_NOT_ALLOWED', [`${operation} is not allowed on a control domain`]);
  const blocked = f['blocked_operations'] as Record<string, string> | undefined;
  if (blocked && operation in blocked) throw new XapiError('OPERATION_BLOCKED', [vm, blocked[operation] ?? '']);
}

/**
 * VM.snapshot: a halted template-like copy (is_a_snapshot, is_a_template) linked both ways to its VM, with
 * new VBDs and copy-on-write snapshot VDIs. The VM's `parent` moves to the new snapshot.
 */
export function snapshotVm(state: PoolState, vm: string, name: string): string {
  const { store } = state;
  const source = requireObject(store, 'VM', vm);
  assertNotSystem(state, vm, 'snapshot');
  if (source['is_a_snapshot'] === true)
    throw new XapiError('OPERATION_NOT_ALLOWED', ['Taking a snapshot of a snapshot is not allowed']);
  const now = new Date();
  const snapshot = store.add('VM', {
    ...source,
    uuid: newUuid(),
    name_label: name,
    is_a_snapshot: true,
    is_a_template: true,
    snapshot_of: vm,
    snapshot_time: now,
    power_state: 'Halted',
    resident_on: NULL_REF,
    domid: -1,
    parent: source['parent'] ?? NULL_REF,
    current_operations: {},
    allowed_operations: [],
  });
  for (const vbd of store.find('VBD', (f) => f['VM'] === vm)) {
    const vbdFields = store.fields('VBD', vbd)!;
    const vdi = str(vbdFields, 'VDI');
    const isDisk = vbdFields['type'] === 'Disk' && vdi !== NULL_REF && store.has('VDI', vdi);
    const snapVdi = isDisk ? snapshotVdi(state, vdi, now) : NULL_REF;
    store.add('VBD', {
      ...vbdFields,
      uuid: newUuid(),
      VM: snapshot,
      VDI: snapVdi,
      empty: !isDisk,
      currently_attached: false,
      current_operations: {},
    });
  }
  for (const vif of store.find('VIF', (f) => f['VM'] === vm)) {
    store.add('VIF', {
      ...store.fields('VIF', vif)!,
      uuid: newUuid(),
      VM: snapshot,
      currently_attached: false,
      current_operations: {},
    });
  }
  store.update('VM', vm, { parent: snapshot });
  return snapshot;
}

/** VM.destroy: removes the VM with its VBDs, VIFs and VTPMs; its VDIs stay (the caller destroys them). */
export function destroyVm(state: PoolState, vm: string): void {
  const { store } = state;
  const f = requireObject(store, 'VM', vm);
  assertNotSystem(state, vm, 'destroy');
  const power = str(f, 'power_state');
  if (power !== 'Halted') throw new XapiError('VM_BAD_POWER_STATE', [vm, 'halted', lower(power)]);
  for (const cls of ['VBD', 'VIF', 'VTPM'] as const) {
    for (const ref of store.find(cls, (x) => x['VM'] === vm)) store.remove(cls, ref);
  }
  store.remove('VM', vm);
}

export function startVm(state: PoolState, vm: string): void {
  const { store } = state;
  const f = requireObject(store, 'VM', vm);
  assertNotSystem(state, vm, 'start');
  if (f['is_a_template'] === true) throw new XapiError('VM_IS_TEMPLATE', [vm]);
  const power = str(f, 'power_state');
  if (power !== 'Halted') throw new XapiError('VM_BAD_POWER_STATE', [vm, 'halted', lower(power)]);
  const domids = store
    .find('VM', (x) => x['power_state'] === 'Running')
    .map((r) => store.fields('VM', r)!['domid'] as number);
  store.update('VM', vm, {
    power_state: 'Running',
    resident_on: state.coordinatorRef,
    domid: Math.max(0, ...domids) + 1,
    memory_target: f['memory_dynamic_max'] ?? 0,
  });
  setAttached(state, vm, true);
}

export function shutdownVm(state: PoolState, vm: string, hard: boolean): void {
  const { store } = state;
  const f = requireObject(store, 'VM', vm);
  assertNotSystem(state, vm, hard ? 'hard_shutdown' : 'clean_shutdown');
  const power = str(f, 'power_state');
  const allowed = hard ? ['Running', 'Paused', 'Suspended'] : ['Running'];
  if (!allowed.includes(power)) throw new XapiError('VM_BAD_POWER_STATE', [vm, 'running', lower(power)]);
  store.update('VM', vm, { power_state: 'Halted', resident_on: NULL_REF, domid: -1, memory_target: 0 });
  setAttached(state, vm, false);
}

function setAttached(state: PoolState, vm: string, attached: boolean): void {
  for (const cls of ['VBD', 'VIF'] as const) {
    for (const ref of state.store.find(cls, (x) => x['VM'] === vm))
      state.store.update(cls, ref, { currently_attached: attached });
  }
}
