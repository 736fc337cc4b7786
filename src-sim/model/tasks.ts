import type { ObjectStore } from './object-store.js';
import { Float } from './values.js';
import { XapiError } from './xapi-error.js';

export type TaskStatus = 'pending' | 'success' | 'failure' | 'cancelling' | 'cancelled';

/**
 * Task lifecycle on top of the store (so every change is an event). Work that can be cancelled registers
 * itself with `begin` and watches the returned signal; task.cancel aborts it and the work ends the task as
 * cancelled. A task nobody works on (task.create by a client) is cancelled at once.
 */
export class TaskManager {
  private readonly workers = new Map<string, AbortController>();

  constructor(
    private readonly store: ObjectStore,
    private readonly residentOn: () => string,
  ) {}

  create(nameLabel: string, nameDescription = ''): string {
    return this.store.add('task', {
      name_label: nameLabel,
      name_description: nameDescription,
      created: new Date(),
      resident_on: this.residentOn(),
    });
  }

  exists(ref: string): boolean {
    return this.store.has('task', ref);
  }

  status(ref: string): TaskStatus | undefined {
    return this.store.fields('task', ref)?.['status'] as TaskStatus | undefined;
  }

  /** Marks the task as worked on; the signal aborts when a client cancels it. */
  begin(ref: string): AbortSignal {
    const controller = new AbortController();
    this.workers.set(ref, controller);
    return controller.signal;
  }

  setProgress(ref: string, progress: number): void {
    if (this.status(ref) !== 'pending') return;
    this.store.update('task', ref, { progress: new Float(Math.min(1, Math.max(0, progress))) });
  }

  /** `result` is already XML-RPC encoded, as XAPI stores it (`<value>OpaqueRef:…</value>`). */
  succeed(ref: string, result = ''): void {
    if (!this.isOpen(ref)) return;
    this.workers.delete(ref);
    this.store.update('task', ref, {
      status: 'success',
      progress: new Float(1),
      result,
      finished: new Date(),
      allowed_operations: [],
    });
  }

  fail(ref: string, error: unknown): void {
    if (!this.isOpen(ref)) return;
    const wasCancelled = this.workers.get(ref)?.signal.aborted === true || this.status(ref) === 'cancelling';
    this.workers.delete(ref);
    const xapiError = wasCancelled
      ? new XapiError('TASK_CANCELLED', [ref])
      : error instanceof XapiError
        ? error
        : new XapiError('INTERNAL_ERROR', [error instanceof Error ? error.message : String(error)]);
    this.store.update('task', ref, {
      status: wasCancelled ? 'cancelled' : 'failure',
      error_info: xapiError.description,
      finished: new Date(),
      allowed_operations: [],
    });
  }

  cancel(ref: string): void {
    if (!this.isOpen(ref)) return;
    const worker = this.workers.get(ref);
    if (worker) {
      this.store.update('task', ref, { status: 'cancelling', allowed_operations: [] });
      worker.abort(new XapiError('TASK_CANCELLED', [ref]));
      return;
    }
    this.store.update('task', ref, {
      status: 'cancelled',
      error_info: ['TASK_CANCELLED', ref],
      finished: new Date(),
      allowed_operations: [],
    });
  }

  destroy(ref: string): void {
    this.workers.get(ref)?.abort(new XapiError('TASK_CANCELLED', [ref]));
    this.workers.delete(ref);
    this.store.remove('task', ref);
  }

  private isOpen(ref: string): boolean {
    const status = this.status(ref);
    return status === 'pending' || status === 'cancelling';
  }
}
