import type { PoolState } from '../model/pool-state.js';
import type { Session } from '../model/sessions.js';
import type { XapiValue } from '../model/values.js';

/** What a call needs to know about the host that received it. */
export interface HostRole {
  readonly isCoordinator: boolean;
  readonly hostRef: string;
  /** host:port of the coordinator, the parameter of HOST_IS_SLAVE. */
  coordinatorAddress(): string;
  /** Milliseconds the next login waits (slow-login fault); 0 when none is set. */
  takeLoginDelay(): number;
  /** Bytes per second a VDI.copy may move (rate-limit fault on vdi_copy); undefined when unlimited. */
  takeCopyRate(): number | undefined;
}

export interface CallContext {
  readonly state: PoolState;
  readonly host: HostRole;
  /** Undefined only for methods declared without a session (login). */
  readonly session: Session | undefined;
  /** The task of an Async call (its progress can be reported), if any. */
  readonly task?: string;
  /** Aborts when the client cancels that task (task.cancel) or destroys it. */
  readonly signal?: AbortSignal;
}

export interface MethodSpec {
  /** Parameter count after the session (all parameters for session-less methods); [min, max] when some are optional. */
  readonly arity: number | readonly [number, number];
  /** Default true: the first parameter is a session ref. */
  readonly session?: boolean;
  /** Default true: Async.<name> exists. */
  readonly async?: boolean;
  run(ctx: CallContext, args: unknown[]): XapiValue | Promise<XapiValue>;
}

/** The API surface: "Class.method" → implementation. */
export class MethodRegistry {
  private readonly methods = new Map<string, MethodSpec>();

  define(name: string, spec: MethodSpec): void {
    this.methods.set(name, spec);
  }

  defineAll(specs: Record<string, MethodSpec>): void {
    for (const [name, spec] of Object.entries(specs)) this.define(name, spec);
  }

  lookup(name: string): MethodSpec | undefined {
    return this.methods.get(name);
  }

  has(name: string): boolean {
    return this.methods.has(name);
  }

  /** Every registered name, in registration order. */
  names(): string[] {
    return [...this.methods.keys()];
  }
}
