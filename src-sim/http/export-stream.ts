import type { TransferFaults } from '../fault-set.js';
import { VDI_IO_ERROR, XapiError } from '../model/xapi-error.js';
import { sendBody } from './body-sender.js';
import { compress, type ExportCompression } from './compression.js';
import type { HttpExchange } from './exchange.js';
import { embeddedErrorBody, transferHead, writeHead } from './raw-response.js';
import type { TransferTask } from './transfer-task.js';

export interface ExportStream {
  statusVersion: '1.0' | '1.1';
  contentType: string;
  /** Built lazily, after the 200 is out, with the pace the faults ask for. */
  source: (pace: { rateLimit?: number; signal: AbortSignal; corruptChecksumAtChunk?: number }) => AsyncIterable<Buffer>;
  /** Denominator of task progress (bytes of source data). */
  totalBytes: number;
  compression?: ExportCompression;
}

/** Counts source bytes into task progress as they are produced. */
async function* withProgress(source: AsyncIterable<Buffer>, total: number, task: TransferTask): AsyncGenerator<Buffer> {
  let done = 0;
  for await (const chunk of source) {
    done += chunk.length;
    if (total > 0) task.progress(done / total);
    yield chunk;
  }
}

/**
 * The common tail of every export: the 200 head with task-id and no length, then the body until the
 * connection closes. Faults act here: embedded error, first-byte delay, rate limit, stall abort, drop.
 */
export async function runExport(
  ex: HttpExchange,
  task: TransferTask,
  faults: TransferFaults,
  stream: ExportStream,
): Promise<void> {
  const [status, headers] = transferHead(stream.statusVersion, task.ref, stream.contentType);
  writeHead(ex.socket, status, headers);
  if (faults.embeddedError) {
    const error = VDI_IO_ERROR();
    ex.socket.end(embeddedErrorBody(error.description));
    task.fail(error);
    return;
  }
  try {
    const source = stream.source({
      rateLimit: faults.rateLimit,
      signal: task.signal,
      corruptChecksumAtChunk: faults.corruptChecksumAtChunk,
    });
    await sendBody(ex.socket, compress(withProgress(source, stream.totalBytes, task), stream.compression ?? 'none'), {
      stallAbortMs: faults.stallAbortMs,
      dropAfterBytes: faults.dropAfterBytes,
      firstByteDelayMs: faults.firstByteDelayMs,
      signal: task.signal,
      onBytes: (n) => task.stats.addBytes(n),
    });
    task.succeed();
  } catch (error) {
    ex.socket.destroy();
    // A transfer that dies after its 200 shows as a cut stream plus a failed task with VDI_IO_ERROR.
    task.fail(task.signal.aborted ? task.signal.reason : normaliseTransferError(error));
  }
}

function normaliseTransferError(error: unknown): unknown {
  return error instanceof XapiError ? error : VDI_IO_ERROR();
}
