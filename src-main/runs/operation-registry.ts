import { SluiceError } from '../errors/sluice-error.js';

export type OperationKind = 'backup' | 'job-run' | 'restore' | 'export' | 'verify' | 'delete';

interface Entry {
  kind: OperationKind;
  controller: AbortController;
}

/**
 * Every run the engine has in flight, whatever started it (a job, "Back up now", a restore, an export, a
 * verify, a delete), with the one way to cancel it. The IPC channels that cancel (backup.cancel, runs.cancel,
 * operations.cancel) all end here, so a run is cancelled the same way whichever view asks.
 */
export class OperationRegistry {
  private readonly entries = new Map<string, Entry>();

  /** Registers a run; `end` must be called when it is over (cancelled or not). */
  begin(id: string, kind: OperationKind): { signal: AbortSignal; end: () => void } {
    if (this.entries.has(id)) throw new Error(`operation ${id} is already registered`);
    const controller = new AbortController();
    this.entries.set(id, { kind, controller });
    return {
      signal: controller.signal,
      end: () => {
        if (this.entries.get(id)?.controller === controller) this.entries.delete(id);
      },
    };
  }

  has(id: string, kinds?: readonly OperationKind[]): boolean {
    const e = this.entries.get(id);
    return e !== undefined && (!kinds || kinds.includes(e.kind));
  }

  /** Cancels a run in flight; false when there is none of that id (of those kinds, when given). */
  cancel(id: string, kinds?: readonly OperationKind[], reason = 'Cancelled by the user.'): boolean {
    const e = this.entries.get(id);
    if (!e || (kinds && !kinds.includes(e.kind))) return false;
    e.controller.abort(new SluiceError('CANCELLED', reason));
    return true;
  }

  /** Cancels every run (of those kinds): Sluice is stopping. */
  cancelAll(kinds?: readonly OperationKind[], reason = 'Sluice is stopping.'): void {
    for (const e of this.entries.values())
      if (!kinds || kinds.includes(e.kind)) e.controller.abort(new SluiceError('CANCELLED', reason));
  }

  get size(): number {
    return this.entries.size;
  }
}
