import type { FaultKind, FaultSpec } from './fault-spec.js';

export type ExportKind = 'export' | 'export_raw_vdi';
export type ImportKind = 'import' | 'import_raw_vdi';

/** The faults that apply to one export, resolved when it starts. */
export interface TransferFaults {
  stallAbortMs?: number;
  rateLimit?: number;
  firstByteDelayMs?: number;
  dropAfterBytes?: number;
  embeddedError: boolean;
  corruptChecksumAtChunk?: number;
  redirect: boolean;
}

export interface ActiveFault {
  readonly id: number;
  readonly spec: FaultSpec;
  /** Uses left; undefined = permanent. */
  remaining: number | undefined;
}

/** The faults armed on one host. One-shot faults are used up by the operations they apply to. */
export class FaultSet {
  private readonly faults: ActiveFault[] = [];
  private static nextId = 1;

  add(spec: FaultSpec): number {
    const id = FaultSet.nextId++;
    this.faults.push({ id, spec, remaining: spec.times });
    return id;
  }

  remove(id: number): boolean {
    const i = this.faults.findIndex((f) => f.id === id);
    if (i >= 0) this.faults.splice(i, 1);
    return i >= 0;
  }

  clear(): void {
    this.faults.length = 0;
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** Resolves (and uses up) the faults of one export of the given kind. */
  takeForExport(kind: ExportKind): TransferFaults {
    const take = <K extends FaultKind>(k: K): Extract<FaultSpec, { kind: K }> | undefined => {
      const fault = this.faults.find(
        (f) => f.spec.kind === k && 'on' in f.spec && (f.spec.on === 'any' || f.spec.on === kind),
      );
      if (!fault) return undefined;
      this.use(fault);
      return fault.spec as Extract<FaultSpec, { kind: K }>;
    };
    const redirect = take('redirect');
    // A redirected request is served (and faulted) by the other host; this one only answers 302.
    if (redirect) return { embeddedError: false, redirect: true };
    return {
      stallAbortMs: take('stall-abort')?.ms,
      rateLimit: take('rate-limit')?.bytesPerSecond,
      firstByteDelayMs: take('first-byte-delay')?.ms,
      dropAfterBytes: take('drop-after')?.bytes,
      embeddedError: take('embedded-error') !== undefined,
      corruptChecksumAtChunk: kind === 'export' ? take('corrupt-checksum')?.chunk : undefined,
      redirect: false,
    };
  }

  /** Resolves (and uses up) the faults of one import: only `drop-after` armed with `on` naming this import. */
  takeForImport(kind: ImportKind): { dropAfterBytes?: number } {
    const fault = this.faults.find((f) => f.spec.kind === 'drop-after' && f.spec.on === kind);
    if (!fault || fault.spec.kind !== 'drop-after') return {};
    this.use(fault);
    return { dropAfterBytes: fault.spec.bytes };
  }

  /** Resolves (and uses up) the rate of one VDI.copy: only `rate-limit` armed with `on: 'vdi_copy'`. */
  takeForCopy(): { rateLimit?: number } {
    const fault = this.faults.find((f) => f.spec.kind === 'rate-limit' && f.spec.on === 'vdi_copy');
    if (!fault || fault.spec.kind !== 'rate-limit') return {};
    this.use(fault);
    return { rateLimit: fault.spec.bytesPerSecond };
  }

  takeLoginDelay(): number {
    const fault = this.faults.find((f) => f.spec.kind === 'slow-login');
    if (!fault || fault.spec.kind !== 'slow-login') return 0;
    this.use(fault);
    return fault.spec.ms;
  }

  private use(fault: ActiveFault): void {
    if (fault.remaining === undefined) return;
    fault.remaining--;
    if (fault.remaining <= 0) this.remove(fault.id);
  }
}
