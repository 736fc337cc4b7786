import { z } from 'zod';

/**
 * What every failed IPC call answers with. The engine never lets an exception cross the boundary raw:
 * the UI shows `message` (what happened, to what) and `hint` (what to do).
 */
export const ipcErrorCodes = [
  'UNKNOWN_CHANNEL',
  'VALIDATION',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHORIZED',
  'CERTIFICATE_CHANGED',
  'CERTIFICATE_UNTRUSTED',
  'HOST_UNREACHABLE',
  'HOST_ERROR',
  'REMOTE_ERROR',
  'CANCELLED',
  'INTERNAL',
] as const;
export type IpcErrorCode = (typeof ipcErrorCodes)[number];

export const ipcErrorSchema = z.object({
  code: z.enum(ipcErrorCodes),
  message: z.string(),
  hint: z.string().optional(),
  /** Where it happened: host, VM, disk, phase, channel… */
  context: z.record(z.string(), z.string()).optional(),
  /** For VALIDATION: which fields were wrong and why. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type IpcError = z.infer<typeof ipcErrorSchema>;

export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** Thrown on the client side when the engine answered with an error. */
export class IpcCallError extends Error {
  readonly code: IpcErrorCode;
  readonly hint: string | undefined;
  readonly detail: IpcError;
  constructor(detail: IpcError) {
    super(detail.message);
    this.name = 'IpcCallError';
    this.code = detail.code;
    this.hint = detail.hint;
    this.detail = detail;
  }
}
