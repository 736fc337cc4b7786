import { z } from 'zod';
import { parseSize } from './sizes.js';

// Faults a test can inject, validated at every entry point (options, CLI, control API). Each applies to one
// host (the coordinator by default) and either to the next `times` matching operations or, without
// `times`, until cleared.

export const HOST_NAMES = ['coordinator', 'second'] as const;
export type HostName = (typeof HOST_NAMES)[number];

/**
 * Which transfers a fault applies to. `any` means any export (the faults predate imports); an import is only
 * faulted when named explicitly (`drop-after` is the one fault that applies to imports), and a VDI.copy only by
 * `rate-limit` with `vdi_copy` (the SR copies at most that rate).
 */
export const EXPORT_TARGETS = ['any', 'export', 'export_raw_vdi', 'import', 'import_raw_vdi', 'vdi_copy'] as const;

const common = {
  host: z.enum(HOST_NAMES).default('coordinator'),
  times: z.number().int().positive().optional(),
};
const onExports = { ...common, on: z.enum(EXPORT_TARGETS).default('any') };
const ms = z.number().int().nonnegative();

export const FaultSpecSchema = z.discriminatedUnion('kind', [
  /** The export gives up when the client has not read for `ms` (vhd-tool 0.20 did so after ~2 s). */
  z.object({ kind: z.literal('stall-abort'), ms: ms.min(1), ...onExports }),
  /** The source delivers at most this many bytes per second. */
  z.object({ kind: z.literal('rate-limit'), bytesPerSecond: z.number().positive(), ...onExports }),
  /** Headers go out at once; the first body byte waits `ms` (as with compression on a real host). */
  z.object({ kind: z.literal('first-byte-delay'), ms, ...onExports }),
  /** The connection is cut after `bytes` body bytes (sent, or received by an import); the task fails with VDI_IO_ERROR. */
  z.object({ kind: z.literal('drop-after'), bytes: z.number().int().nonnegative(), ...onExports }),
  /** 200 headers, then a body that is an embedded "HTTP/1.1 500 Internal Error" response. */
  z.object({ kind: z.literal('embedded-error'), ...onExports }),
  /** The checksum file of chunk number `chunk` is wrong (XVA exports only). */
  z.object({ kind: z.literal('corrupt-checksum'), chunk: z.number().int().nonnegative(), ...onExports }),
  /** 302 Found to the other host of the pool, which then serves the request. */
  z.object({ kind: z.literal('redirect'), ...onExports }),
  /** session.login_with_password answers only after `ms`. */
  z.object({ kind: z.literal('slow-login'), ms, ...common }),
]);

export type FaultSpec = z.infer<typeof FaultSpecSchema>;
export type FaultSpecInput = z.input<typeof FaultSpecSchema>;
export type FaultKind = FaultSpec['kind'];

/** The main parameter of each kind, for the CLI shorthand `kind=value`. */
const MAIN_PARAMETER: Record<FaultKind, { key: string; parse: (v: string) => number } | undefined> = {
  'stall-abort': { key: 'ms', parse: Number },
  'rate-limit': { key: 'bytesPerSecond', parse: parseSize },
  'first-byte-delay': { key: 'ms', parse: Number },
  'drop-after': { key: 'bytes', parse: parseSize },
  'embedded-error': undefined,
  'corrupt-checksum': { key: 'chunk', parse: Number },
  redirect: undefined,
  'slow-login': { key: 'ms', parse: Number },
};

export const FAULT_KINDS = Object.keys(MAIN_PARAMETER) as FaultKind[];

/**
 * Parses the CLI form: `kind[=value][,times=N][,host=second][,on=export|export_raw_vdi]`, e.g.
 * `stall-abort=2000`, `drop-after=10M,times=1`, `redirect,host=coordinator,on=export`.
 */
export function parseFaultArgument(text: string): FaultSpec {
  const [head, ...options] = text.split(',');
  const [kindText, value] = (head ?? '').split('=', 2) as [string, string | undefined];
  if (!(FAULT_KINDS as string[]).includes(kindText)) {
    throw new Error(`unknown fault "${kindText}" (known: ${FAULT_KINDS.join(', ')})`);
  }
  const kind = kindText as FaultKind;
  const input: Record<string, unknown> = { kind };
  const main = MAIN_PARAMETER[kind];
  if (main) {
    if (value === undefined) throw new Error(`fault ${kind} needs a value: ${kind}=<${main.key}>`);
    input[main.key] = main.parse(value);
  }
  for (const option of options) {
    const [key, v] = option.split('=', 2) as [string, string | undefined];
    if (v === undefined) throw new Error(`fault option "${option}" needs key=value`);
    input[key] = key === 'times' ? Number(v) : v;
  }
  const parsed = FaultSpecSchema.safeParse(input);
  if (!parsed.success) throw new Error(`fault "${text}": ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
