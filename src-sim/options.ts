import { z } from 'zod';
import { FaultSpecSchema, parseFaultArgument, type FaultSpec, type FaultSpecInput } from './fault-spec.js';
import type { PoolSpec, SrSpec, VmSpec } from './model/pool-spec.js';
import { customPool, preset, uniformPool, type PresetName } from './presets.js';

export interface SimOptions {
  /** A preset name (default "small-shop"), a number of uniform VMs, or explicit VM specs. */
  vms?: PresetName | number | VmSpec[];
  /** Virtual size of each disk when `vms` is a number (default 1 GiB). */
  diskSize?: number;
  /** Share of each disk holding data when `vms` is a number (default 0.25). */
  allocatedFraction?: number;
  /** Replaces the SRs of the pool (the default SR is the one named `defaultSr`, else the last). */
  srs?: SrSpec[];
  defaultSr?: string;
  /** HTTPS with a self-signed certificate (default true); false serves plain HTTP. */
  tls?: boolean;
  username?: string;
  password?: string;
  /** Faults armed at start: specs or the CLI form ("stall-abort=2000,times=1"). */
  faults?: Array<FaultSpecInput | string>;
  /** Delay before SESSION_AUTHENTICATION_FAILED (default 5000 ms, as real hosts). */
  loginFailureDelayMs?: number;
  /** XenServer 7.5: SHA-1 XVA checksums, API 2.10, and vhd-tool's 2 s stall limit on /export_raw_vdi. */
  oldHost?: boolean;
  /** VDI.get_nbd_info lists an endpoint (default: empty list, as without an NBD network). */
  nbd?: boolean;
  /** Seed of all disk contents and MACs (default 1). */
  seed?: number;
  /** Port of the coordinator (default 0: any free port); the second host and the control API take any. */
  port?: number;
  secondHostPort?: number;
  controlPort?: number;
}

export interface ResolvedOptions {
  pool: PoolSpec;
  tls: boolean;
  username: string;
  password: string;
  faults: FaultSpec[];
  loginFailureDelayMs: number;
  oldHost: boolean;
  nbd: boolean;
  seed: number;
  port: number;
  secondHostPort: number;
  controlPort: number;
}

export const DEFAULT_USERNAME = 'root';
export const DEFAULT_PASSWORD = 'xcp-sim';

/** A fault from a spec object or the CLI form; throws a readable message when it is invalid. */
export function parseFault(input: FaultSpecInput | string): FaultSpec {
  if (typeof input === 'string') return parseFaultArgument(input);
  const parsed = FaultSpecSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid fault ${JSON.stringify(input)}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function resolveOptions(options: SimOptions): ResolvedOptions {
  const vms = options.vms ?? 'small-shop';
  let pool =
    typeof vms === 'string'
      ? preset(vms)
      : typeof vms === 'number'
        ? uniformPool(vms, options.diskSize ?? 1024 ** 3, options.allocatedFraction ?? 0.25)
        : customPool(vms);
  if (options.srs) pool = { ...pool, srs: options.srs, defaultSr: options.defaultSr ?? options.srs.at(-1)?.name ?? '' };
  const faults = (options.faults ?? []).map(parseFault);
  // vhd-tool 0.20.0 (XenServer 7.5) died after ~2 s of EAGAIN: the bug this project exists to survive.
  if (options.oldHost) faults.push(parseFault({ kind: 'stall-abort', ms: 2000, on: 'export_raw_vdi' }));
  return {
    pool,
    tls: options.tls ?? true,
    username: options.username ?? DEFAULT_USERNAME,
    password: options.password ?? DEFAULT_PASSWORD,
    faults,
    loginFailureDelayMs: options.loginFailureDelayMs ?? 5000,
    oldHost: options.oldHost ?? false,
    nbd: options.nbd ?? false,
    seed: options.seed ?? 1,
    port: options.port ?? 0,
    secondHostPort: options.secondHostPort ?? 0,
    controlPort: options.controlPort ?? 0,
  };
}
