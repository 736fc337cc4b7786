import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimHandle } from '../../src-sim/index.js';
import { call, login } from './support/clients.js';

let sim: SimHandle;
let session: string;
beforeAll(async () => {
  sim = await startSimulator({ tls: false, loginFailureDelayMs: 10 });
  session = await login(sim.url, sim.username, sim.password);
});
afterAll(() => sim?.stop());

type Records = Record<string, Record<string, unknown>>;

describe('the small-shop preset (default, here over plain HTTP)', () => {
  it('is a realistic small pool', async () => {
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.fingerprint).toBe('');
    const [pool] = Object.values(await call<Records>(sim.url, 'pool.get_all_records', session));
    expect(pool!['name_label']).toBe('Small shop');
    const srs = await call<Records>(sim.url, 'SR.get_all_records', session);
    expect(
      Object.values(srs)
        .map((s) => s['name_label'])
        .sort(),
    ).toEqual(['Local storage', 'NFS storage']);
    expect(srs[pool!['default_SR'] as string]!['type']).toBe('nfs');

    const vms = Object.values(await call<Records>(sim.url, 'VM.get_all_records', session)).filter(
      (v) => !v['is_a_template'] && !v['is_control_domain'],
    );
    expect(vms.map((v) => v['name_label'])).toEqual([
      'dc01 (Windows Server 2022)',
      'fileserver',
      'erp-db',
      'mail',
      'test-vm',
    ]);
    expect(new Set(vms.map((v) => v['power_state']))).toEqual(new Set(['Running', 'Halted']));
    expect(vms.find((v) => (v['tags'] as string[]).includes('xo:no-bak'))?.['name_label']).toBe('test-vm');

    const vdis = Object.values(await call<Records>(sim.url, 'VDI.get_all_records', session));
    expect(vdis.some((v) => String(v['name_label']).includes('[NOBAK]'))).toBe(true);
    for (const vdi of vdis) expect(vdi['virtual_size']).toBeGreaterThanOrEqual(8 * 1024 ** 3);
    // What each disk takes on its SR, as sm reports it: a file SR's VHDs grow with the data (under 400 MiB in
    // all); the thick LVM SR holds a writable disk's whole virtual size, and a little more.
    const onType = (type: string) => vdis.filter((v) => srs[v['SR'] as string]?.['type'] === type);
    const used = (list: typeof vdis) => list.reduce((sum, v) => sum + (v['physical_utilisation'] as number), 0);
    expect(onType('nfs').length).toBeGreaterThan(0);
    expect(used(onType('nfs'))).toBeLessThan(400 * 1024 ** 2);
    for (const v of onType('lvm')) {
      expect(v['physical_utilisation']).toBeGreaterThanOrEqual(v['virtual_size'] as number);
      expect(v['physical_utilisation']).toBeLessThan((v['virtual_size'] as number) * 1.01);
    }
    expect(onType('lvm').length).toBeGreaterThan(0);

    const vifs = Object.values(await call<Records>(sim.url, 'VIF.get_all_records', session));
    expect(vifs.every((v) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(v['MAC'] as string))).toBe(true);
  });
});
