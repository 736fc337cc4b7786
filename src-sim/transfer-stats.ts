import type { HostName } from './fault-spec.js';

export type TransferKind = 'export' | 'export_metadata' | 'export_raw_vdi' | 'import' | 'import_raw_vdi';

export interface TransferRecord {
  id: number;
  host: HostName;
  kind: TransferKind;
  /** uuid of the VM or VDI transferred. */
  target: string;
  task: string;
  /** Body bytes sent (exports) or received (imports). */
  bytes: number;
  startedAt: string;
  finishedAt?: string;
  outcome?: 'success' | 'failure';
  errorInfo?: string[];
}

export interface TransferHandle {
  readonly record: TransferRecord;
  addBytes(n: number): void;
  finish(outcome: 'success' | 'failure', errorInfo?: string[]): void;
}

const isExport = (kind: TransferKind): boolean => kind.startsWith('export');

/** Counts what the data path did, for tests of concurrency and throughput (GET /stats). */
export class TransferStats {
  private readonly records: TransferRecord[] = [];
  private active = 0;
  private maxActive = 0;
  private nextId = 1;

  begin(host: HostName, kind: TransferKind, target: string, task: string): TransferHandle {
    const record: TransferRecord = {
      id: this.nextId++,
      host,
      kind,
      target,
      task,
      bytes: 0,
      startedAt: new Date().toISOString(),
    };
    this.records.push(record);
    const counted = isExport(kind);
    if (counted) {
      this.active++;
      this.maxActive = Math.max(this.maxActive, this.active);
    }
    let open = true;
    return {
      record,
      addBytes: (n) => {
        record.bytes += n;
      },
      finish: (outcome, errorInfo) => {
        if (!open) return;
        open = false;
        if (counted) this.active--;
        record.finishedAt = new Date().toISOString();
        record.outcome = outcome;
        if (errorInfo) record.errorInfo = errorInfo;
      },
    };
  }

  snapshot(): { activeExports: number; maxConcurrentExports: number; transfers: TransferRecord[] } {
    return {
      activeExports: this.active,
      maxConcurrentExports: this.maxActive,
      transfers: this.records.map((r) => ({ ...r })),
    };
  }

  /** Forgets finished transfers and restarts the maximum from the current count. */
  reset(): void {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i]!.finishedAt) this.records.splice(i, 1);
    this.maxActive = this.active;
  }
}
