import type { IpcError, IpcErrorCode } from '../../src-shared/contract/errors.js';
import type { Damage } from './damage.js';

export type { Damage, DamageKind } from './damage.js';

/** Where an error belongs: the UI and the log show these next to the message. */
export interface ErrorContext {
  host?: string;
  vm?: string;
  disk?: string;
  phase?: string;
  remote?: string;
  channel?: string;
  [key: string]: string | undefined;
}

/**
 * The engine's one error type at boundaries: a code the UI can branch on, a message that says what happened
 * and to what, and a hint that says what to do.
 */
export class SluiceError extends Error {
  readonly code: IpcErrorCode;
  readonly hint: string | undefined;
  readonly context: ErrorContext;
  /** VALIDATION: each wrong field (dotted path, e.g. schedules.0.cron) and why, for a form to highlight. */
  readonly issues: Array<{ path: string; message: string }> | undefined;
  /** Whether starting the operation over can help (a stream cut or garbled on the way); unset means no. */
  readonly retryable: boolean | undefined;
  /** What is damaged and where, when the failure is damage to a file or stream. */
  readonly damage: Damage | undefined;
  constructor(
    code: IpcErrorCode,
    message: string,
    opts: {
      hint?: string;
      context?: ErrorContext;
      cause?: unknown;
      issues?: Array<{ path: string; message: string }>;
      retryable?: boolean | undefined;
      damage?: Damage | undefined;
    } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.hint = opts.hint;
    this.issues = opts.issues;
    this.retryable = opts.retryable;
    this.damage = opts.damage;
    this.context = withTypedFields(opts.context ?? {}, opts);
  }
}

/**
 * The log and the UI show the context, so the typed fields appear there too, as they always have; code that
 * decides something reads the typed fields, never these strings.
 */
function withTypedFields(
  context: ErrorContext,
  typed: { retryable?: boolean | undefined; damage?: Damage | undefined },
): ErrorContext {
  const { retryable, damage } = typed;
  if (retryable === undefined && damage === undefined) return context;
  return {
    ...context,
    ...(damage
      ? {
          ...(damage.file !== undefined ? { file: damage.file } : {}),
          ...(damage.offset !== undefined ? { offset: String(damage.offset) } : {}),
          damage: damage.kind,
        }
      : {}),
    ...(retryable !== undefined ? { retryable: String(retryable) } : {}),
  };
}

function cleanContext(ctx: ErrorContext): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx)) if (v !== undefined) out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Turns anything thrown into the wire shape; unknown errors become INTERNAL without leaking a stack. */
export function toIpcError(err: unknown, extra: ErrorContext = {}): IpcError {
  if (err instanceof SluiceError) {
    const context = cleanContext({ ...err.context, ...extra });
    return {
      code: err.code,
      message: err.message,
      ...(err.hint !== undefined ? { hint: err.hint } : {}),
      ...(context ? { context } : {}),
      ...(err.issues ? { issues: err.issues } : {}),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  const context = cleanContext(extra);
  return {
    code: 'INTERNAL',
    message: `Sluice hit an unexpected error: ${message}`,
    hint: 'This is a bug in Sluice. The engine is still running; please report it with the engine log.',
    ...(context ? { context } : {}),
  };
}
