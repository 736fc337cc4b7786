// The simulated XCP-ng pool every test talks to. See README.md.
export { startSimulator, type SimHandle } from './simulator.js';
export type { SimOptions } from './options.js';
export { DEFAULT_PASSWORD, DEFAULT_USERNAME } from './options.js';
export type { SimControl, SimStats, FaultInfo } from './control.js';
export type { FaultSpec, FaultSpecInput, FaultKind, HostName } from './fault-spec.js';
export { FAULT_KINDS } from './fault-spec.js';
export type { VmSpec, DiskSpec, SrSpec } from './model/pool-spec.js';
export { PRESET_NAMES, type PresetName } from './presets.js';
export type { TransferRecord } from './transfer-stats.js';
