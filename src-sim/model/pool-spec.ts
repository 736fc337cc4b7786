// What a simulated pool is made of. Presets (../presets.ts) and SimOptions produce these.

export interface DiskSpec {
  name: string;
  /** Virtual size in bytes. */
  size: number;
  /** Bytes holding data at start (rounded to clusters); default 25 % of size. */
  allocated?: number;
  /** Name of the SR holding the disk; default: the pool's default SR. */
  sr?: string;
}

export interface VmSpec {
  name: string;
  description?: string;
  powerState?: 'Running' | 'Halted';
  memoryMiB?: number;
  vcpus?: number;
  tags?: string[];
  disks: DiskSpec[];
  /** Names of the networks the VM has a VIF on; default: the first network. */
  networks?: string[];
  /** Adds an empty CD drive, as most Windows VMs have. */
  cdDrive?: boolean;
  /** other_config entries (os hints and such). */
  otherConfig?: Record<string, string>;
}

export interface SrSpec {
  name: string;
  type: 'lvm' | 'ext' | 'nfs' | 'iso';
  shared: boolean;
  /** Bytes. */
  physicalSize: number;
  description?: string;
}

export interface PoolSpec {
  name: string;
  /** The first SR of the list is local to the coordinator; `defaultSr` names the pool's default SR. */
  srs: SrSpec[];
  defaultSr: string;
  networks: string[];
  vms: VmSpec[];
  /** Default templates and control domains, which a backup tool must leave out. */
  withSystemObjects: boolean;
}
