import http from 'node:http';
import type { Socket } from 'node:net';
import { SluiceError, type ErrorContext } from '../errors/sluice-error.js';
import { describeNetworkError } from './host-unreachable.js';
import { connectPinned } from './pinned-socket.js';
import type { XapiSession } from './xapi-session.js';

/** A PUT to one of the host's import handlers, fed chunk by chunk (the sink of a transfer pipeline). */
export interface HostUpload {
  /** Resolves when the socket has taken the chunk (flow control: the pipeline bounds the writes in flight). */
  write(chunk: Buffer): Promise<void>;
  /** Ends the body and waits until the host has answered and closed (it does so when its task is done). */
  finish(): Promise<void>;
  /** Cuts the connection: the host sees the upload fail and fails its task. */
  abort(reason?: unknown): void;
  readonly maxInFlight: number;
  /** Chunks are done with once write() resolves: the pipeline may recycle them. */
  readonly releasesChunks: true;
}

/**
 * PUT /import or /import_raw_vdi, authenticated by session id, over a socket whose certificate was checked
 * against the pin before the session id goes out (as the data path's GET). The body's length is sent up
 * front: xapi refuses chunked uploads (IMPORT_ERROR_CANNOT_HANDLE_CHUNKED). The host answers 200 with its
 * task before reading the body; any other status ends the upload with a clear error. Node's HTTP client, not
 * undici, for the same reason as the downloads: the host ends things by closing the connection.
 */
export async function openHostUpload(
  xapi: XapiSession,
  path: string,
  query: Record<string, string>,
  opts: { contentLength: number; signal?: AbortSignal; context: ErrorContext },
): Promise<HostUpload> {
  const url = new URL(path, xapi.url);
  for (const [k, v] of Object.entries({ session_id: xapi.sessionId, ...query })) url.searchParams.set(k, v);
  const context = { ...opts.context, host: url.host };
  if (opts.signal?.aborted) throw new SluiceError('CANCELLED', 'The upload was cancelled.', { context });
  const req = putRequest(url, await connectPinned(url, xapi.fingerprint), opts.contentLength);
  let failure: Error | undefined;
  const fail = (err: Error): void => {
    failure ??= err;
    req.destroy(failure);
  };
  const onAbort = () => fail(new SluiceError('CANCELLED', 'The upload was cancelled.', { context }));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const settled = new Promise<void>((resolve, reject) => {
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) fail(refusedUpload(status, path, context));
      res.resume();
      res.once('end', resolve);
      res.once('close', resolve);
      res.once('error', (e) => reject(failure ?? describeNetworkError(url.host, e)));
    });
    req.once('error', (e) => reject(failure ?? (e instanceof SluiceError ? e : describeNetworkError(url.host, e))));
    req.once('close', () => {
      if (failure) reject(failure);
    });
  });
  // Nobody may be awaiting yet when the host cuts the connection; the error is seen by the next write or finish.
  settled.catch(() => {});
  const cleanup = () => opts.signal?.removeEventListener('abort', onAbort);
  settled.then(cleanup, cleanup);

  return {
    maxInFlight: MAX_WRITES_IN_FLIGHT,
    releasesChunks: true,
    write(chunk) {
      if (failure) return Promise.reject(failure);
      if (req.destroyed) return settled.then(() => Promise.reject(lostConnection(context)));
      // Resolves once the socket has taken the chunk (its callback), so the chunk's memory may be reused; a
      // few writes in flight keep the socket from running dry between chunks.
      return new Promise<void>((resolve, reject) => {
        const onClose = () => reject(failure ?? lostConnection(context));
        req.once('close', onClose);
        req.write(chunk, (err) => {
          req.off('close', onClose);
          if (err) reject(failure ?? describeNetworkError(url.host, err));
          else resolve();
        });
      });
    },
    async finish() {
      if (failure) throw failure;
      req.end();
      await settled;
      if (failure) throw failure;
    },
    abort(reason) {
      fail(reason instanceof Error ? reason : new SluiceError('CANCELLED', 'The upload was stopped.', { context }));
    },
  };
}

/** The PUT, over the socket already checked against the pin (nothing is sent before). */
function putRequest(url: URL, socket: Socket, contentLength: number): http.ClientRequest {
  return http.request({
    method: 'PUT',
    host: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: {
      host: url.host,
      'user-agent': 'Sluice',
      'content-length': String(contentLength),
      'content-type': 'application/octet-stream',
    },
    createConnection: () => socket,
  });
}

function refusedUpload(status: number, path: string, context: ErrorContext): SluiceError {
  return new SluiceError('HOST_ERROR', `The host answered HTTP ${status} to the upload (${path}).`, {
    hint: status === 401 ? 'The host refused the session; log in again.' : "Check the host's log (xensource.log).",
    context: { ...context, status: String(status) },
  });
}

/** With 2 MiB chunks (a VHD block), about 8 MiB queued towards the host. */
const MAX_WRITES_IN_FLIGHT = 4;

function lostConnection(context: ErrorContext): SluiceError {
  return new SluiceError('HOST_ERROR', 'The host closed the connection during the upload.', {
    hint: 'The host stopped the import (storage full, I/O error, or restarted); its task says why.',
    context,
    damage: { kind: 'truncated' },
  });
}
