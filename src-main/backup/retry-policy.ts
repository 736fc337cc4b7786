import { SluiceError } from '../errors/sluice-error.js';
import { XapiError } from '../xapi/xapi-error.js';

export interface RetryPolicy {
  attempts: number;
  /** Delay before attempt n+1 (n from 1). */
  backoffMs: (attempt: number) => number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attempts: 3,
  backoffMs: (n) => Math.min(30_000, 2_000 * 2 ** (n - 1)),
};

/**
 * Whether starting the export over can help: the host gave up (VDI_IO_ERROR), the connection broke, the
 * stream came back damaged or silent. Not: the remote is full, the user cancelled, credentials or
 * certificates are wrong.
 */
const RETRYABLE_XAPI_CODES = new Set(['VDI_IO_ERROR', 'HOST_OFFLINE', 'INTERNAL_ERROR']);

export function isRetryable(err: unknown): boolean {
  if (err instanceof XapiError) return RETRYABLE_XAPI_CODES.has(err.xapiCode);
  if (err instanceof SluiceError) return err.code === 'HOST_UNREACHABLE' || (err.code === 'HOST_ERROR' && err.context.retryable === 'true');
  return false;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
