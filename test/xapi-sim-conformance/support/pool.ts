import { startSimulator, type SimHandle, type SimOptions } from '../../../src-sim/index.js';
import { call, login } from './clients.js';

export interface TestPool {
  sim: SimHandle;
  session: string;
  vmRef(name: string): Promise<string>;
  /** VDI refs of a VM's disks, in userdevice order. */
  vdisOf(vm: string): Promise<string[]>;
}

/** A small pool for conformance tests: tiny disks, fast login failures. */
export async function startTestPool(options: SimOptions = {}): Promise<TestPool> {
  const sim = await startSimulator({
    vms: 2,
    diskSize: 8 * 1024 * 1024,
    allocatedFraction: 0.5,
    loginFailureDelayMs: 100,
    ...options,
  });
  const session = await login(sim.url, sim.username, sim.password);
  return {
    sim,
    session,
    async vmRef(name) {
      const [ref] = await call<string[]>(sim.url, 'VM.get_by_name_label', session, name);
      if (!ref) throw new Error(`no VM ${name}`);
      return ref;
    },
    async vdisOf(vm) {
      const vbds = await call<string[]>(sim.url, 'VM.get_VBDs', session, vm);
      const records = await Promise.all(
        vbds.map((vbd) => call<Record<string, string>>(sim.url, 'VBD.get_record', session, vbd)),
      );
      return records
        .filter((r) => r['type'] === 'Disk')
        .sort((a, b) => Number(a['userdevice']) - Number(b['userdevice']))
        .map((r) => r['VDI']!);
    },
  };
}
