// The values a XAPI record holds, independent of the wire encoding. Integers are int64 (untyped on XML-RPC,
// numbers on JSON-RPC); the few float fields are wrapped so an integral progress of 1 still travels as a
// double; datetimes are Dates (compact ISO 8601 on both wires).

/** A float field (task progress, HVM_shadow_multiplier), kept apart from int64 fields. */
export class Float {
  constructor(readonly value: number) {}
}

export type XapiValue = string | number | boolean | Date | Float | readonly XapiValue[] | XapiStruct;
export interface XapiStruct {
  readonly [key: string]: XapiValue;
}

/** A string-to-string map field (other_config, sm_config, platform…). */
export type StringMap = Record<string, string>;

/** The epoch, which XAPI uses for "never" (task.finished while pending, snapshot_time of a non-snapshot). */
export const NEVER = new Date(0);
