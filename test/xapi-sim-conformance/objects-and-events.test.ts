import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../src-sim/formats/xmlrpc-value.js';
import { call, waitTask, XapiFailure } from './support/clients.js';
import { startTestPool, type TestPool } from './support/pool.js';

let pool: TestPool;
let url: string;
beforeAll(async () => {
  pool = await startTestPool({ vms: 3, diskSize: 4 * 1024 * 1024 });
  url = pool.sim.url;
});
afterAll(() => pool?.sim.stop());

type Rec = Record<string, unknown>;
const record = (cls: string, ref: string): Promise<Rec> => call<Rec>(url, `${cls}.get_record`, pool.session, ref);
const code = async (p: Promise<unknown>): Promise<string[]> => {
  try {
    await p;
  } catch (error) {
    if (error instanceof XapiFailure) return [error.code, ...error.params];
    throw error;
  }
  throw new Error('the call succeeded');
};

describe('snapshots', () => {
  it('VM.snapshot links snapshot and VM both ways, with new VBDs and snapshot VDIs', async () => {
    const vm = await pool.vmRef('vm-01');
    const [vdi] = await pool.vdisOf(vm);
    const snap = await call<string>(url, 'VM.snapshot', pool.session, vm, 'backup 1');
    const snapRecord = await record('VM', snap);
    expect(snapRecord).toMatchObject({
      name_label: 'backup 1',
      is_a_snapshot: true,
      is_a_template: true,
      snapshot_of: vm,
      power_state: 'Halted',
    });
    expect(snapRecord['snapshot_time']).not.toBe('19700101T00:00:00Z');
    expect((await record('VM', vm))['snapshots']).toEqual([snap]);

    const [snapVdi] = await pool.vdisOf(snap);
    expect(snapVdi).not.toBe(vdi);
    expect(await record('VDI', snapVdi!)).toMatchObject({ is_a_snapshot: true, snapshot_of: vdi });
    expect((await record('VDI', vdi!))['snapshots']).toEqual([snapVdi]);
    expect((await record('VM', snap))['VBDs']).toHaveLength(1);
  });

  it('VM.destroy removes VBDs and VIFs but leaves the VDIs; VDI.destroy removes those', async () => {
    const vm = await pool.vmRef('vm-02');
    const snap = await call<string>(url, 'VM.snapshot', pool.session, vm, 'to destroy');
    const vbds = await call<string[]>(url, 'VM.get_VBDs', pool.session, snap);
    const vifs = await call<string[]>(url, 'VM.get_VIFs', pool.session, snap);
    expect(vifs).toHaveLength(1);
    const vdis = await pool.vdisOf(snap);
    await call(url, 'VM.destroy', pool.session, snap);
    expect(await code(record('VM', snap))).toEqual(['HANDLE_INVALID', 'VM', snap]);
    expect(await code(record('VBD', vbds[0]!))).toEqual(['HANDLE_INVALID', 'VBD', vbds[0]]);
    expect(await code(record('VIF', vifs[0]!))).toEqual(['HANDLE_INVALID', 'VIF', vifs[0]]);
    expect((await record('VDI', vdis[0]!))['VBDs']).toEqual([]);
    await call(url, 'VDI.destroy', pool.session, vdis[0]);
    expect(await code(record('VDI', vdis[0]!))).toEqual(['HANDLE_INVALID', 'VDI', vdis[0]]);
  });

  it('power changes: VM.start, VM_BAD_POWER_STATE, VDI_IN_USE while running, shutdown', async () => {
    const vm = await pool.vmRef('vm-03');
    await call(url, 'VM.start', pool.session, vm, false, false);
    expect(await call(url, 'VM.get_power_state', pool.session, vm)).toBe('Running');
    expect(await code(call(url, 'VM.start', pool.session, vm, false, false))).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted',
      'running',
    ]);
    expect(await code(call(url, 'VM.destroy', pool.session, vm))).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted',
      'running',
    ]);
    const [vdi] = await pool.vdisOf(vm);
    expect(await code(call(url, 'VDI.destroy', pool.session, vdi))).toEqual(['VDI_IN_USE', vdi, 'destroy']);
    await call(url, 'VM.clean_shutdown', pool.session, vm);
    expect(await call(url, 'VM.get_power_state', pool.session, vm)).toBe('Halted');
  });

  it('lists no NBD endpoints unless configured', async () => {
    const [vdi] = await pool.vdisOf(await pool.vmRef('vm-01'));
    expect(await call(url, 'VDI.get_nbd_info', pool.session, vdi)).toEqual([]);
  });
});

describe('Async calls and tasks', () => {
  it('Async.VM.snapshot returns a task whose result is the XML-RPC encoded ref', async () => {
    const vm = await pool.vmRef('vm-01');
    const task = await call<string>(url, 'Async.VM.snapshot', pool.session, vm, 'async snap');
    expect(task).toMatch(/^OpaqueRef:/);
    const done = await waitTask(url, pool.session, task);
    expect(done).toMatchObject({ status: 'success', progress: 1, name_label: 'Async.VM.snapshot' });
    expect(done['result']).toMatch(/^<value>OpaqueRef:[0-9a-f-]+<\/value>$/);
    const snap = decodeValue(done['result'] as string) as string;
    expect(await call(url, 'VM.get_snapshot_of', pool.session, snap)).toBe(vm);
  });

  it('an Async failure ends the task in failure with error_info', async () => {
    const task = await call<string>(url, 'Async.VM.snapshot', pool.session, 'OpaqueRef:gone', 'x');
    expect(await waitTask(url, pool.session, task)).toMatchObject({
      status: 'failure',
      error_info: ['HANDLE_INVALID', 'VM', 'OpaqueRef:gone'],
    });
  });

  it('task.create / cancel / destroy', async () => {
    const task = await call<string>(url, 'task.create', pool.session, 'sluice backup', 'desc');
    expect(await record('task', task)).toMatchObject({
      status: 'pending',
      name_label: 'sluice backup',
      allowed_operations: ['cancel'],
      progress: 0,
    });
    await call(url, 'task.cancel', pool.session, task);
    expect(await call(url, 'task.get_status', pool.session, task)).toBe('cancelled');
    await call(url, 'task.destroy', pool.session, task);
    expect(await code(record('task', task))).toEqual(['HANDLE_INVALID', 'task', task]);
  });
});

describe('event.from', () => {
  interface EventBatch {
    events: Array<{ id: number; class: string; operation: string; ref: string; snapshot?: Rec }>;
    valid_ref_counts: Record<string, number>;
    token: string;
  }

  it('token "" returns current objects, then only changes; empty only at timeout', async () => {
    const first = await call<EventBatch>(url, 'event.from', pool.session, ['vm'], '', 0);
    expect(first.events.length).toBeGreaterThan(0);
    expect(first.events.every((e) => e.class === 'vm' && e.operation === 'add')).toBe(true);
    expect(first.valid_ref_counts['vm']).toBe(first.events.length);

    const started = Date.now();
    const idle = await call<EventBatch>(url, 'event.from', pool.session, ['vm'], first.token, 0.3);
    expect(idle.events).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);

    const vm = await pool.vmRef('vm-02');
    const waiting = call<EventBatch>(url, 'event.from', pool.session, ['vm', 'task'], idle.token, 30);
    await new Promise((r) => setTimeout(r, 100));
    await call(url, 'VM.set_name_description', pool.session, vm, 'changed');
    const batch = await waiting;
    expect(batch.events).toEqual([
      expect.objectContaining({
        class: 'vm',
        operation: 'mod',
        ref: vm,
        snapshot: expect.objectContaining({ name_description: 'changed' }),
      }),
    ]);
  });

  it('reports add, mod and del of snapshots, VBDs and VDIs', async () => {
    const start = await call<EventBatch>(url, 'event.from', pool.session, ['*'], '', 0);
    const vm = await pool.vmRef('vm-03');
    const snap = await call<string>(url, 'VM.snapshot', pool.session, vm, 'evented');
    const afterSnap = await call<EventBatch>(url, 'event.from', pool.session, ['vm', 'vbd', 'vdi'], start.token, 1);
    const ops = afterSnap.events.map((e) => `${e.class}:${e.operation}`);
    expect(ops).toEqual(expect.arrayContaining(['vm:add', 'vm:mod', 'vbd:add', 'vdi:add']));
    expect(afterSnap.events.find((e) => e.class === 'vm' && e.operation === 'add')?.ref).toBe(snap);

    await call(url, 'VM.destroy', pool.session, snap);
    const afterDestroy = await call<EventBatch>(url, 'event.from', pool.session, ['vm/' + snap], afterSnap.token, 1);
    expect(afterDestroy.events).toEqual([expect.objectContaining({ class: 'vm', operation: 'del', ref: snap })]);
  });
});

describe('changed block tracking', () => {
  it('list_changed_blocks: base64 bitmap, one bit per 64 KiB, block 0 = MSB of byte 0', async () => {
    const vm = await pool.vmRef('vm-01');
    const [vdi] = await pool.vdisOf(vm);
    const uuid = await call<string>(url, 'VDI.get_uuid', pool.session, vdi);
    const snapVm = await call<string>(url, 'VM.snapshot', pool.session, vm, 'no cbt');
    const [noCbt] = await pool.vdisOf(snapVm);
    expect(await code(call(url, 'VDI.list_changed_blocks', pool.session, noCbt, vdi))).toEqual([
      'VDI_NO_CBT_METADATA',
      noCbt,
    ]);

    await call(url, 'VDI.enable_cbt', pool.session, vdi);
    const base = (await pool.vdisOf(await call<string>(url, 'VM.snapshot', pool.session, vm, 'cbt base')))[0]!;
    expect(await call(url, 'VDI.get_cbt_enabled', pool.session, base)).toBe(true);
    const unchanged = Buffer.from(
      await call<string>(url, 'VDI.list_changed_blocks', pool.session, base, vdi),
      'base64',
    );
    expect(unchanged.length).toBe((4 * 1024 * 1024) / (64 * 1024) / 8);
    expect(unchanged.every((b) => b === 0)).toBe(true);

    pool.sim.control.guestWrite(await call<string>(url, 'VM.get_uuid', pool.session, vm), 0.1, 42);
    const changed = Buffer.from(await call<string>(url, 'VDI.list_changed_blocks', pool.session, base, vdi), 'base64');
    const changedBlocks: number[] = [];
    for (let block = 0; block < changed.length * 8; block++)
      if (changed[block >> 3]! & (0x80 >> (block & 7))) changedBlocks.push(block);
    expect(changedBlocks.length).toBeGreaterThan(0);
    // Each block reported changed really differs (the bitmap's bit order is right), and the others do not.
    const baseUuid = await call<string>(url, 'VDI.get_uuid', pool.session, base);
    for (let block = 0; block < 64; block++) {
      const [a, b] = await Promise.all([
        pool.sim.control.readVdi(uuid, block * 65536, 65536),
        pool.sim.control.readVdi(baseUuid, block * 65536, 65536),
      ]);
      expect(!a.equals(b)).toBe(changedBlocks.includes(block));
    }
    await call(url, 'VDI.disable_cbt', pool.session, vdi);
    expect(await call(url, 'VDI.get_cbt_enabled', pool.session, vdi)).toBe(false);
  });
});

describe('creating a VM from a record', () => {
  it('VM.create takes a whole VM record as get_record gave it (float fields as JSON numbers), a new uuid, halted', async () => {
    const source = await record('VM', await pool.vmRef('vm-02'));
    expect(typeof source['HVM_shadow_multiplier']).toBe('number');
    const vm = await call<string>(url, 'VM.create', pool.session, { ...source, name_label: 'recreated' });
    const created = await record('VM', vm);
    expect(created).toMatchObject({
      name_label: 'recreated',
      power_state: 'Halted',
      HVM_shadow_multiplier: source['HVM_shadow_multiplier'],
      memory_static_max: source['memory_static_max'],
    });
    expect(created['uuid']).not.toBe(source['uuid']);
    expect(
      await code(call(url, 'VM.create', pool.session, { name_label: 'bad', HVM_shadow_multiplier: 'many' })),
    ).toEqual(['FIELD_TYPE_ERROR', 'HVM_shadow_multiplier']);
    await call(url, 'VM.destroy', pool.session, vm);
  });
});
