import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Xapi, type XapiObject } from 'xen-api';
import { XAPI_CLASSES } from '../../src-sim/model/classes.js';
import { startTestPool, type TestPool } from './support/pool.js';
import { tarEntries } from './support/tar.js';

// Xen Orchestra's own XAPI client against the simulator, driven the way XO drives a host: login and type
// discovery (system.listMethods), the object cache (event.inject then event.from), tasks watched through
// that cache, and the data path with XO's slashed paths. Whatever it needs and a real host has, we must have.

const DISK = 4 * 1024 * 1024;

let pool: TestPool;
let xapi: Xapi;
beforeAll(async () => {
  pool = await startTestPool({ vms: 2, diskSize: DISK, allocatedFraction: 0.5 });
  xapi = new Xapi({
    url: pool.sim.url,
    auth: { user: pool.sim.username, password: pool.sim.password },
    allowUnauthorized: true,
    // A failed event.from (the simulator stopping under it) must not leave a 60 s timer behind.
    eventPollDelay: 10,
    debounce: 20,
  });
});
afterAll(async () => {
  await xapi?.disconnect();
  await pool?.sim.stop();
});

/** Fails instead of hanging when the client waits on something the simulator never sends. */
async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cached = (type: string): XapiObject[] => Object.values(xapi.objects.all).filter((o) => o.$type === type);
const vmNamed = (name: string): XapiObject => cached('VM').find((vm) => vm['name_label'] === name)!;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A tar header's checksum: the byte sum with its own 8-byte field taken as spaces, in octal at offset 148. */
function tarChecksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return parseInt(header.subarray(148, 156).toString('latin1').replace(/\0.*$/, '').trim(), 8) === sum;
}

describe('xen-api (Xen Orchestra) against the simulator', () => {
  it('connects: logs in and discovers the classes through system.listMethods', async () => {
    await within(xapi.connect(), 'connect');
    expect(xapi.status).toBe('connected');
    expect(xapi.pool.$ref).toMatch(/^OpaqueRef:/);
    await within(xapi.objectsFetched, 'the initial fetch');
  });

  it("reads every class's records into its object cache, as the host has them", async () => {
    await within(xapi.objectsFetched, 'the initial fetch');
    for (const cls of XAPI_CLASSES) {
      const records = pool.sim.control.records(cls);
      expect(
        cached(cls)
          .map((o) => o.$ref)
          .sort(),
        cls,
      ).toEqual(Object.keys(records).sort());
      for (const object of cached(cls)) expect(object['uuid'], cls).toBe(records[object.$ref]!['uuid']);
    }
    expect(cached('PIF').length).toBeGreaterThan(0);
  });

  it("maps a VM's VIF through its network to the PIF on each host", async () => {
    await within(xapi.objectsFetched, 'the initial fetch');
    const vif = cached('VIF')[0]!;
    const network = xapi.getObjectByRef(vif['network'] as string);
    for (const host of cached('host')) {
      const hostPifs = new Set(host['PIFs'] as string[]);
      const pifs = (network['PIFs'] as string[]).filter((ref) => hostPifs.has(ref)).map((r) => xapi.getObjectByRef(r));
      expect(pifs).toHaveLength(1);
      expect(pifs[0]).toMatchObject({ host: host.$ref, network: network.$ref, currently_attached: true, VLAN: -1 });
      expect(pifs[0]!['MAC']).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    }
    const management = cached('PIF').filter((pif) => pif['management'] === true);
    expect(management.map((pif) => pif['host']).sort()).toEqual(
      cached('host')
        .map((h) => h.$ref)
        .sort(),
    );
  });

  it('follows event.from: changes made over XAPI and by the simulator reach the cache', async () => {
    await within(xapi.objectsFetched, 'the initial fetch');
    const vm = vmNamed('vm-02');
    await xapi.call('VM.set_name_label', vm.$ref, 'vm-02 renamed');
    await until(() => xapi.getObjectByRef(vm.$ref)['name_label'] === 'vm-02 renamed', 'the rename event');

    pool.sim.control.setPowerState(vm['uuid'] as string, 'Running');
    await until(() => xapi.getObjectByRef(vm.$ref)['power_state'] === 'Running', 'the power-state event');
    pool.sim.control.setPowerState(vm['uuid'] as string, 'Halted');
    await until(() => xapi.getObjectByRef(vm.$ref)['power_state'] === 'Halted', 'the second power-state event');
    await xapi.call('VM.set_name_label', vm.$ref, 'vm-02');
  });

  it('watches a task to its end: Async.VM.snapshot resolves to the new snapshot', async () => {
    const vm = vmNamed('vm-01');
    const snapshot = await within(xapi.callAsync<string>('VM.snapshot', vm.$ref, 'xo snapshot'), 'the task');
    expect(snapshot).toMatch(/^OpaqueRef:/);
    await until(() => xapi.getObjectByRef(snapshot, undefined) !== undefined, 'the snapshot in the cache');
    expect(xapi.getObjectByRef(snapshot)).toMatchObject({ is_a_snapshot: true, snapshot_of: vm.$ref });
    await xapi.call('VM.destroy', snapshot);
    await until(() => xapi.getObjectByRef(snapshot, undefined) === undefined, 'the snapshot deletion');
  });

  it('VM.update_allowed_operations, as XO calls it, synchronously and as a task', async () => {
    const vm = vmNamed('vm-01');
    expect(await xapi.call('VM.update_allowed_operations', vm.$ref)).toBe('');
    expect(await within(xapi.callAsync('VM.update_allowed_operations', vm.$ref), 'the task')).toBe('');
    await expect(xapi.call('VM.update_allowed_operations', 'OpaqueRef:nope')).rejects.toMatchObject({
      code: 'HANDLE_INVALID',
    });
  });

  it('exports an XVA from /export/ and imports it back through /import/', async () => {
    const vm = vmNamed('vm-01');
    const response = await xapi.getResource('/export/', { query: { ref: vm.$ref, use_compression: 'false' } });
    expect(response.statusCode).toBe(200);
    const xva = Buffer.from(await response.body.arrayBuffer());
    await within(response.task!, 'the export task');
    expect(xva.subarray(0, 7).toString()).toBe('ova.xml');
    expect(tarChecksumOk(xva.subarray(0, 512))).toBe(true);
    expect(tarEntries(xva)[0]!.name).toBe('ova.xml');

    const sr = xapi.pool['default_SR'] as string;
    const imported = await within(xapi.putResource(xva, '/import/', { query: { sr_id: sr } }), 'the import task');
    expect(imported).toHaveLength(1);
    const [ref] = imported as string[];
    await until(() => xapi.getObjectByRef(ref!, undefined) !== undefined, 'the imported VM in the cache');
    expect(xapi.getObjectByRef(ref!)).toMatchObject({ name_label: 'vm-01', is_a_snapshot: false });
  });

  it('moves a raw disk through /export_raw_vdi/ and /import_raw_vdi/', async () => {
    const vdiOf = (name: string): XapiObject => {
      const vbd = cached('VBD').find((b) => b['VM'] === vmNamed(name).$ref && b['type'] === 'Disk')!;
      return xapi.getObjectByRef(vbd['VDI'] as string);
    };
    const source = vdiOf('vm-01');
    const target = vdiOf('vm-02');
    const response = await xapi.getResource('/export_raw_vdi/', { query: { vdi: source.$ref, format: 'raw' } });
    const raw = Buffer.from(await response.body.arrayBuffer());
    await within(response.task!, 'the export task');
    expect(raw.length).toBe(DISK);
    expect(sha256(raw)).toBe(await pool.sim.control.hashVdi(source['uuid'] as string));

    const result = xapi.putResource(raw, '/import_raw_vdi/', { query: { vdi: target.$ref, format: 'raw' } });
    expect(await within(result, 'the import task')).toBe(target.$ref);
    expect(await pool.sim.control.hashVdi(target['uuid'] as string)).toBe(sha256(raw));
  });
});
