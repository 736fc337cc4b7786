import WebSocket from 'ws';
import type { BackupRunResult } from '../../src-shared/contract/backups.js';
import type { OperationFinished } from '../../src-shared/contract/points.js';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import type { ServeProcess } from './serve-process.js';

/**
 * A second client of `sluice serve`'s engine, beside the page: it hears the same events (every progress sample,
 * every end of a run), so a test can hold what the UI shows against the engine's own figures.
 */
export interface EngineWatch {
  samples(runId: string): TransferProgress[];
  backupFinished(runId: string): BackupRunResult | undefined;
  operationFinished(runId: string): OperationFinished | undefined;
  /** The id of the newest run whose samples name this VM. */
  newestRunOf(vmName: string): string | undefined;
  close(): void;
}

export async function watchEngine(serve: ServeProcess): Promise<EngineWatch> {
  const page = new URL(serve.url);
  const ws = new WebSocket(`ws://${page.host}/ipc${page.search}`, { headers: { origin: page.origin } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const samples = new Map<string, TransferProgress[]>();
  const order: Array<{ runId: string; vm: string }> = [];
  const backups = new Map<string, BackupRunResult>();
  const operations = new Map<string, OperationFinished>();
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { type: string; event?: string; payload?: unknown };
    if (m.type !== 'event') return;
    if (m.event === 'backup.progress') {
      const p = m.payload as TransferProgress;
      let list = samples.get(p.runId);
      if (!list) {
        samples.set(p.runId, (list = []));
        order.push({ runId: p.runId, vm: p.vm.name });
      }
      list.push(p);
    } else if (m.event === 'backup.finished') {
      const r = m.payload as BackupRunResult;
      backups.set(r.runId, r);
    } else if (m.event === 'operations.finished') {
      const r = m.payload as OperationFinished;
      operations.set(r.operationId, r);
    }
  });
  for (const event of ['backup.progress', 'backup.finished', 'operations.finished'])
    ws.send(JSON.stringify({ type: 'subscribe', event }));
  return {
    samples: (runId) => samples.get(runId) ?? [],
    backupFinished: (runId) => backups.get(runId),
    operationFinished: (runId) => operations.get(runId),
    newestRunOf: (vm) => order.filter((o) => o.vm === vm).at(-1)?.runId,
    close: () => ws.close(),
  };
}
