import { z } from 'zod';

/**
 * The XAPI record fields Sluice reads, parsed tolerantly: int64 arrive as numbers (JSON-RPC) or strings
 * (XML-RPC), booleans as booleans or 0/1 on old hosts, and unknown fields pass through untouched (the
 * backup metadata keeps whole records).
 */
const int = z.union([z.number(), z.string()]).transform((v) => Number(v));
const bool = z
  .union([z.boolean(), z.number(), z.string()])
  .transform((v) => v === true || v === 1 || v === '1' || v === 'true');
const ref = z.string();
const strMap = z.record(z.string(), z.string()).default({});

export const vmRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    name_description: z.string().default(''),
    power_state: z.string(),
    is_a_template: bool,
    is_a_snapshot: bool.default(false),
    is_control_domain: bool.default(false),
    snapshot_of: ref.default('OpaqueRef:NULL'),
    snapshots: z.array(ref).default([]),
    VBDs: z.array(ref).default([]),
    VIFs: z.array(ref).default([]),
    tags: z.array(z.string()).default([]),
    other_config: strMap,
    resident_on: ref.default('OpaqueRef:NULL'),
    memory_static_max: int.default(0),
    VCPUs_max: int.default(0),
  })
  .passthrough();
export type VmRecord = z.infer<typeof vmRecordSchema>;

export const vbdRecordSchema = z
  .object({
    uuid: z.string(),
    VM: ref,
    VDI: ref,
    device: z.string().default(''),
    userdevice: z.string().default(''),
    type: z.string(),
    mode: z.string().default('RW'),
    empty: bool.default(false),
    bootable: bool.default(false),
  })
  .passthrough();
export type VbdRecord = z.infer<typeof vbdRecordSchema>;

export const vdiRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    name_description: z.string().default(''),
    SR: ref,
    virtual_size: int,
    physical_utilisation: int.default(0),
    type: z.string().default('user'),
    is_a_snapshot: bool.default(false),
    snapshot_of: ref.default('OpaqueRef:NULL'),
    other_config: strMap,
    sm_config: strMap,
    cbt_enabled: bool.default(false),
  })
  .passthrough();
export type VdiRecord = z.infer<typeof vdiRecordSchema>;

export const srRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    type: z.string().default(''),
    content_type: z.string().default(''),
    shared: bool.default(false),
    physical_size: int.default(0),
    physical_utilisation: int.default(0),
  })
  .passthrough();
export type SrRecord = z.infer<typeof srRecordSchema>;

export const hostRecordSchema = z
  .object({
    uuid: z.string(),
    name_label: z.string(),
    address: z.string().default(''),
    hostname: z.string().default(''),
    software_version: strMap,
  })
  .passthrough();
export type HostRecord = z.infer<typeof hostRecordSchema>;

export const poolRecordSchema = z
  .object({ uuid: z.string(), name_label: z.string(), master: ref, default_SR: ref.default('OpaqueRef:NULL') })
  .passthrough();
export type PoolRecord = z.infer<typeof poolRecordSchema>;

export const taskRecordSchema = z
  .object({
    uuid: z.string().default(''),
    status: z.string(),
    progress: z.union([z.number(), z.string()]).transform(Number).default(0),
    result: z.string().default(''),
    error_info: z.array(z.string()).default([]),
  })
  .passthrough();
export type TaskRecord = z.infer<typeof taskRecordSchema>;

export const NULL_REF = 'OpaqueRef:NULL';

/** get_all_records answers {ref: record}; parse each, skipping (not failing on) a record we cannot read. */
export function parseRecordMap<S extends z.ZodType>(schema: S, raw: unknown): Map<string, z.infer<S>> {
  const out = new Map<string, z.infer<S>>();
  if (!raw || typeof raw !== 'object') return out;
  for (const [ref, rec] of Object.entries(raw as Record<string, unknown>)) {
    const parsed = schema.safeParse(rec);
    if (parsed.success) out.set(ref, parsed.data);
  }
  return out;
}

/** A task's result is an XML-RPC value inside a string, even under JSON-RPC: `<value>OpaqueRef:…</value>`. */
export function parseTaskResultRefs(result: string): string[] {
  return [...result.matchAll(/(OpaqueRef:[0-9a-fA-F-]+)/g)].map((m) => m[1]!);
}
