import { encodeValue } from '../formats/xmlrpc-value.js';
import { importRaw } from '../formats/raw-import.js';
import { importVhd } from '../formats/vhd-import.js';
import { importXva } from '../formats/xva-import.js';
import { refOrUuid, requireObject, str } from '../model/lookup.js';
import type { ImportedObjects } from '../model/xva-restore.js';
import { createObjectsFromOva } from '../model/xva-restore.js';
import { VDI_IO_ERROR, XapiError } from '../model/xapi-error.js';
import { toXmlRpcWire } from '../rpc/wire.js';
import { authenticate, type HttpAuth } from './auth.js';
import type { HttpExchange } from './exchange.js';
import type { HostContext } from './host-context.js';
import { respond, transferHead, writeHead } from './raw-response.js';
import { beginTransferTask, type TransferTask } from './transfer-task.js';

/**
 * Counts received bytes into stats and progress, and stops reading when the task is cancelled. With
 * `dropAfter` (the drop-after fault) the host cuts the connection once that many bytes have arrived, as a
 * host whose storage or network failed mid-import: the import fails with VDI_IO_ERROR.
 */
async function* received(
  body: AsyncIterable<Buffer>,
  task: TransferTask,
  expected: number | undefined,
  ex: HttpExchange,
  dropAfter?: number,
): AsyncGenerator<Buffer> {
  let done = 0;
  for await (const chunk of body) {
    task.signal.throwIfAborted();
    if (dropAfter !== undefined && done + chunk.length >= dropAfter) {
      ex.socket.destroy();
      throw VDI_IO_ERROR();
    }
    done += chunk.length;
    task.stats.addBytes(chunk.length);
    if (expected) task.progress(done / expected);
    yield chunk;
  }
}

/** Errors of the formats layer become the import errors a host reports. */
function asImportError(error: unknown): unknown {
  if (error instanceof XapiError) return error;
  if (error instanceof Error && /FormatError|DecompressionError|RawImportError/.test(error.name))
    return new XapiError('IMPORT_ERROR', [error.message]);
  return error;
}

function contentLength(ex: HttpExchange): number | undefined {
  const value = ex.headers['content-length'];
  return value === undefined ? undefined : Number(value);
}

/**
 * The start of every import: chunked bodies are refused (xapi cannot read them), a 100 Continue is given
 * to clients that wait for it, and the 200 with task-id goes out before the body is read.
 */
function acceptUpload(ex: HttpExchange, task: TransferTask): boolean {
  if (/chunked/i.test(ex.headers['transfer-encoding'] ?? '')) {
    task.fail(new XapiError('IMPORT_ERROR_CANNOT_HANDLE_CHUNKED'));
    respond.internalError(ex.socket, task.ref);
    return false;
  }
  if (/100-continue/i.test(ex.headers['expect'] ?? '')) ex.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  const [status, headers] = transferHead('1.1', task.ref);
  writeHead(ex.socket, status, headers);
  return true;
}

async function withAuth(ctx: HostContext, ex: HttpExchange, run: (auth: HttpAuth) => Promise<void>): Promise<void> {
  const auth = authenticate(ex, ctx.state);
  if (!auth) return respond.unauthorized(ex.socket);
  try {
    await run(auth);
  } finally {
    if (auth.transient) ctx.state.sessions.close(auth.session.ref);
  }
}

/** PUT /import?sr_id=[&restore=true]: an XVA (plain, gzip or zstd) becomes a new VM. */
export function handleVmImport(ctx: HostContext, ex: HttpExchange): Promise<void> {
  return withAuth(ctx, ex, async () => {
    const { state } = ctx;
    const srParam = ex.query.get('sr_id');
    const sr = srParam ?? str(state.store.fields('pool', state.poolRef)!, 'default_SR');
    if (!state.store.has('SR', sr)) return respond.notFound(ex.socket);
    const task = beginTransferTask(ctx, ex, 'import', 'VM import', str(state.store.fields('SR', sr)!, 'uuid'));
    if (!acceptUpload(ex, task)) return;
    const { dropAfterBytes } = ctx.faults.takeForImport('import');
    let imported: ImportedObjects | undefined;
    try {
      await importXva(received(ex.body(), task, contentLength(ex), ex, dropAfterBytes), async (ova) => {
        imported = createObjectsFromOva(state, ova, sr, { restore: ex.query.get('restore') === 'true' });
        return imported.disks;
      });
      for (const vdi of imported!.vdis) state.refreshVdiUsage(vdi);
      task.succeed(encodeValue(toXmlRpcWire(imported!.vms)));
      ex.socket.end();
    } catch (error) {
      await imported?.rollback();
      task.fail(asImportError(error));
      ex.socket.destroy();
    }
  });
}

/**
 * PUT /import_raw_vdi?vdi=&format=raw|vhd writes into an existing VDI; with sr_id (raw only) and no vdi, a new
 * VDI sized by Content-Length is created first. Result: `<value>OpaqueRef:vdi</value>`.
 */
export function handleRawVdiImport(ctx: HostContext, ex: HttpExchange): Promise<void> {
  return withAuth(ctx, ex, async () => {
    const { state } = ctx;
    const format = ex.query.get('format') ?? 'raw';
    if (format !== 'raw' && format !== 'vhd') return respond.badRequest(ex.socket);
    const vdiParam = ex.query.get('vdi');
    const srParam = ex.query.get('sr_id');
    let vdi: string | undefined;
    if (vdiParam) {
      try {
        vdi = refOrUuid(state.store, 'VDI', vdiParam);
      } catch {
        return respond.notFound(ex.socket);
      }
    } else if (!srParam || !state.store.has('SR', srParam) || format !== 'raw' || contentLength(ex) === undefined) {
      return respond.badRequest(ex.socket);
    }
    const target = vdi
      ? str(state.store.fields('VDI', vdi)!, 'uuid')
      : str(state.store.fields('SR', srParam!)!, 'uuid');
    const task = beginTransferTask(ctx, ex, 'import_raw_vdi', 'import_raw_vdi', target);
    try {
      if (!vdi) vdi = createSizedVdi(ctx, srParam!, contentLength(ex)!);
    } catch (error) {
      task.fail(error);
      return respond.internalError(ex.socket, task.ref);
    }
    if (!acceptUpload(ex, task)) return;
    const { dropAfterBytes } = ctx.faults.takeForImport('import_raw_vdi');
    const disk = state.disks.get(vdi)!;
    try {
      const body = received(ex.body(), task, contentLength(ex) ?? disk.size, ex, dropAfterBytes);
      if (format === 'vhd') await importVhd(disk, body);
      else await importRaw(disk, body);
      state.refreshVdiUsage(vdi);
      task.succeed(encodeValue(vdi));
      ex.socket.end();
    } catch (error) {
      task.fail(asImportError(error));
      ex.socket.destroy();
    }
  });
}

function createSizedVdi(ctx: HostContext, sr: string, size: number): string {
  const { state } = ctx;
  requireObject(state.store, 'SR', sr);
  if (size > state.srFreeSpace(sr))
    throw new XapiError('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', '']);
  const vdi = state.store.add('VDI', { name_label: 'import_raw_vdi', SR: sr, virtual_size: size, type: 'user' });
  state.disks.create(vdi, size, 0);
  return vdi;
}
