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
  if (err instanceof SluiceError)
    return err.code === 'HOST_UNREACHABLE' || (err.code === 'HOST_ERROR' && err.retryable === true);
  return false;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, starting over (with backoff) while the failure is retryable and attempts
 * remain; the log says why each attempt failed. A cancelled run is never retried.
 */
export async function retryFromStart<T>(
  what: string,
  opts: {
    policy?: RetryPolicy;
    signal?: AbortSignal;
    log: (level: 'warn', message: string, context?: Record<string, string>) => void;
    context: Record<string, string>;
  },
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const policy = opts.policy ?? defaultRetryPolicy;
  let first: unknown;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      first ??= err;
      if (opts.signal?.aborted || !isRetryable(err) || n >= policy.attempts) throw whatHappened(first, err);
      const wait = policy.backoffMs(n);
      opts.log(
        'warn',
        `Attempt ${n} of ${what} failed: ${(err as Error).message} Retrying from the start in ${Math.round(wait / 1000)} s.`,
        { ...opts.context, phase: 'transfer' },
      );
      await sleep(wait, opts.signal);
    }
  }
}

/**
 * A host that failed an attempt and then could not be reached at all went away: the first failure says what
 * broke (and, from the code that raised it, what was kept), the last one that the host is still gone.
 */
function whatHappened(first: unknown, last: unknown): unknown {
  if (first === last || !(first instanceof SluiceError) || !(last instanceof SluiceError)) return last;
  if (last.code !== 'HOST_UNREACHABLE') return last;
  return new SluiceError('HOST_UNREACHABLE', `${first.message} The retries could not reach it: ${last.message}`, {
    hint: first.hint ?? last.hint,
    context: { ...last.context, ...first.context },
    cause: last,
  });
}
