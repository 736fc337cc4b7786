import type { IpcErrorCode } from '../../src-shared/contract/errors.js';
import { SluiceError, type ErrorContext } from '../errors/sluice-error.js';

/** Plain-words explanations of the XAPI error codes a backup tool meets, with what to do about each. */
interface Explanation {
  code: IpcErrorCode;
  /** `code`: the XAPI code itself, for explanations that cover a family of codes. */
  message: (p: string[], code: string) => string;
  hint: string;
}

const explanations: Record<string, Explanation> = {
  SESSION_AUTHENTICATION_FAILED: {
    code: 'UNAUTHORIZED',
    message: (p) => `The host refused the login${p[0] ? ` of "${p[0]}"` : ''}: wrong username or password.`,
    hint: "Check the username and password (the pool's root account, or a user with the pool-admin role).",
  },
  SESSION_INVALID: {
    code: 'UNAUTHORIZED',
    message: () => 'The host no longer recognises our session.',
    hint: 'Sluice logs in again by itself; if this persists, the host may have restarted its toolstack.',
  },
  HANDLE_INVALID: {
    code: 'NOT_FOUND',
    message: (p) => `The ${p[0] ?? 'object'} ${p[1] ?? ''} no longer exists on the host.`,
    hint: 'It was probably deleted meanwhile; refresh the inventory.',
  },
  UUID_INVALID: {
    code: 'NOT_FOUND',
    message: (p) => `No ${p[0] ?? 'object'} with uuid ${p[1] ?? ''} on this pool.`,
    hint: 'Check the uuid, or pick the VM by name.',
  },
  VM_BAD_POWER_STATE: {
    code: 'HOST_ERROR',
    message: (p) => `The VM is ${p[2] ?? 'in the wrong state'} but must be ${p[1] ?? 'in another state'} for this.`,
    hint: "Change the VM's power state, or back it up through a snapshot (Sluice does this by itself).",
  },
  VDI_IO_ERROR: {
    code: 'HOST_ERROR',
    message: () => 'The host gave up reading or sending a disk (VDI_IO_ERROR).',
    hint: 'Often the host timed out because the destination was too slow, or the storage had an I/O error. Sluice retries by itself; check the SR if it persists.',
  },
  VDI_IN_USE: {
    code: 'CONFLICT',
    message: () => 'The disk is in use by another operation.',
    hint: 'Wait for the other operation (another backup or a migration) to finish.',
  },
  OTHER_OPERATION_IN_PROGRESS: {
    code: 'CONFLICT',
    message: (p) => `Another operation is running on ${p[0] ?? 'the object'}.`,
    hint: 'Wait for it to finish, then retry.',
  },
  OPERATION_NOT_ALLOWED: {
    code: 'HOST_ERROR',
    message: (p) => `The host does not allow this operation${p[0] ? `: ${p[0]}` : ''}.`,
    hint: "Check the VM's blocked operations and state in XenCenter or XO.",
  },
  TASK_CANCELLED: {
    code: 'CANCELLED',
    message: () => 'The host task was cancelled.',
    hint: 'Run it again when you are ready.',
  },
  SR_BACKEND_FAILURE_44: {
    code: 'HOST_ERROR',
    message: () => 'The storage repository is full (SR_BACKEND_FAILURE_44).',
    hint: 'Free space on the SR or choose another SR.',
  },
  HOST_IS_SLAVE: {
    code: 'HOST_ERROR',
    message: (p) => `This host is a pool member, not the coordinator (${p[0] ?? 'unknown'}).`,
    hint: "Sluice follows the coordinator by itself; use the coordinator's address to save a round trip.",
  },
  MESSAGE_METHOD_UNKNOWN: {
    code: 'HOST_ERROR',
    message: (p) => `The host does not know the call ${p[0] ?? ''}.`,
    hint: 'The host runs an XAPI version Sluice does not support; update the host.',
  },
};

/** Any other SR_BACKEND_FAILURE_<n>: params are [code, errno, driver's text, …]. */
const storageFailure: Explanation = {
  code: 'HOST_ERROR',
  message: (p, code) => {
    const words = p.filter((x) => x && !/^\d+$/.test(x)).join('; ');
    return `The host's storage failed (${code})${words ? `: ${words}` : ''}.`;
  },
  hint: "Check the SR on the host (is it attached and healthy?) and the host's log (SMlog); then retry or choose another SR.",
};

/** An XAPI failure: the host's own code and parameters, explained, with where it happened. */
export class XapiError extends SluiceError {
  readonly xapiCode: string;
  readonly params: string[];
  readonly method: string | undefined;
  constructor(xapiCode: string, params: string[], opts: { method?: string; context?: ErrorContext } = {}) {
    // Only code 44 means a full SR; other storage-backend failures carry the storage driver's own words.
    const known = explanations[xapiCode] ?? (xapiCode.startsWith('SR_BACKEND_FAILURE') ? storageFailure : undefined);
    const message = known
      ? known.message(params, xapiCode)
      : `The host answered ${xapiCode}${params.length ? ` (${params.join(', ')})` : ''}${opts.method ? ` to ${opts.method}` : ''}.`;
    super(known?.code ?? 'HOST_ERROR', message, {
      hint: known?.hint ?? "See the host's log (xensource.log) for details.",
      context: { ...opts.context, ...(opts.method ? { call: opts.method } : {}), xapiCode },
    });
    this.name = 'XapiError';
    this.xapiCode = xapiCode;
    this.params = params;
    this.method = opts.method;
  }
}
