import { startSimulator, type SimHandle, type SimOptions } from '../xapi-sim/index.js';
import { XapiSession } from '../../src-main/xapi/xapi-session.js';

export const MiB = 1024 * 1024;

/** A small pool for engine tests: quick to back up, with the shapes that matter (2 disks, running, halted, no-bak). */
export function smallPool(overrides: SimOptions = {}): Promise<SimHandle> {
  return startSimulator({
    vms: [
      { name: 'web01', powerState: 'Halted', disks: [{ name: 'web01 system', size: 24 * MiB, allocated: 8 * MiB }, { name: 'web01 data', size: 12 * MiB + 512 * 1024, allocated: 4 * MiB }] },
      { name: 'db01', powerState: 'Running', disks: [{ name: 'db01 system', size: 16 * MiB, allocated: 6 * MiB }] },
      { name: 'scratch', powerState: 'Halted', tags: ['xo:no-bak'], disks: [{ name: 'scratch disk', size: 8 * MiB, allocated: 1 * MiB }] },
    ],
    loginFailureDelayMs: 50,
    ...overrides,
  });
}

export function connect(sim: SimHandle, password = sim.password): Promise<XapiSession> {
  return XapiSession.connect({ url: sim.url, username: sim.username, password, trustedFingerprint: sim.fingerprint });
}
