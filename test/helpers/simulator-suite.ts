import { afterAll, beforeAll } from 'vitest';
import { resolveVms } from '../../src-main/backup/vm-selection.js';
import type { XapiSession } from '../../src-main/xapi/xapi-session.js';
import { startSimulator, type SimHandle, type SimOptions, type VmSpec } from '../../src-sim/index.js';
import { writePasswordFile } from './cli-args.js';
import { connect, MiB, smallPool } from './sim.js';
import { tempDirs } from './temp-dir.js';

/** What a test file gets from `withSimulator`; read its fields inside hooks and tests, once the simulator runs. */
export interface SimulatorSuite {
  readonly sim: SimHandle;
  /** A session on the simulator (none with `{ session: false }`). */
  readonly xapi: XapiSession;
  /** A file holding the simulator's password (mode 0600), as `--password-file` takes it. */
  readonly passwordFile: string;
  /** A fresh temp folder, removed after the file's tests. */
  temp(): string;
  /** The opaque ref of the (non-snapshot) VM named `name`. */
  vmRef(name: string): Promise<string>;
}

/**
 * One simulator for a test file: started (with a session and a password file) before its tests, stopped after
 * them, its temp folders removed. `start` is the simulator's options (quick login failures unless they say
 * otherwise) or a function that starts one; the default is `smallPool()`.
 */
export function withSimulator(
  start: SimOptions | (() => Promise<SimHandle>) = smallPool,
  opts: { session?: boolean } = {},
): SimulatorSuite {
  const { temp, cleanupAll } = tempDirs();
  let sim: SimHandle | undefined;
  let xapi: XapiSession | undefined;
  let passwordFile: string | undefined;
  beforeAll(async () => {
    sim = await (typeof start === 'function' ? start() : startSimulator({ loginFailureDelayMs: 50, ...start }));
    if (opts.session !== false) xapi = await connect(sim);
    passwordFile = writePasswordFile(temp(), sim.password);
  });
  afterAll(async () => {
    await xapi?.close();
    await sim?.stop();
    cleanupAll();
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`withSimulator: no ${what} yet (read it inside a hook or a test)`);
    return value;
  };
  return {
    get sim() {
      return ready(sim, 'simulator');
    },
    get xapi() {
      return ready(xapi, 'session');
    },
    get passwordFile() {
      return ready(passwordFile, 'password file');
    },
    temp,
    vmRef: async (name) => (await resolveVms(ready(xapi, 'session'), [name])).selected[0]!.ref,
  };
}

/** Two small disks (16 and 8 MiB, a quarter of each allocated), for `haltedVm`. */
export const systemAndData: Record<string, [size: number, allocated: number]> = {
  system: [16 * MiB, 4 * MiB],
  data: [8 * MiB, 2 * MiB],
};

/** A halted VM whose disks are named "<vm> <role>": `haltedVm('app', { system: [16 * MiB, 4 * MiB] })`. */
export function haltedVm(name: string, disks: Record<string, [size: number, allocated: number]>): VmSpec {
  return {
    name,
    powerState: 'Halted',
    disks: Object.entries(disks).map(([role, [size, allocated]]) => ({ name: `${name} ${role}`, size, allocated })),
  };
}
