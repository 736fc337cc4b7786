import { SluiceError, type ErrorContext } from '../errors/sluice-error.js';
import type { BlockPool } from '../core/block-pool.js';
import { BlockSocketReader } from './block-socket-reader.js';
import { describeNetworkError } from './host-unreachable.js';
import {
  MalformedHttpResponse,
  readResponseHead,
  responseBody,
  type HttpResponseHead,
} from './http-response-reader.js';
import { connectPinned } from './pinned-socket.js';
import { fingerprintOfPem } from './tls-pinning.js';
import type { XapiSession } from './xapi-session.js';
import { hostRecordSchema, parseRecordMap } from './xapi-records.js';

export interface HostStream {
  body: AsyncIterable<Buffer>;
  /** The host's task for this transfer (ours when we passed task_id). */
  taskRef: string | undefined;
  /** Closes the connection: the host sees the client go away. */
  abort(reason?: unknown): void;
}

/** A 200 whose body is an HTTP error response: some hosts report failures this way. */
export class EmbeddedHttpError extends SluiceError {
  constructor(statusLine: string, context: ErrorContext) {
    super('HOST_ERROR', `The host sent an error inside its export: "${statusLine}".`, {
      hint: "The export failed on the host; Sluice retries it. If it persists, check the host's log (xensource.log).",
      context,
      retryable: true,
    });
    this.name = 'EmbeddedHttpError';
  }
}

const MAX_REDIRECTS = 3;

/**
 * GET on one of the host's data handlers (/export, /export_raw_vdi), authenticated by session id, following
 * the host's 302 to the pool member that sees the storage (its certificate pinned through the pool's own
 * API, never trusted blindly).
 *
 * Neither undici nor Node's HTTP client carries these bodies. The host ends them by closing the connection,
 * and undici 7 crashes the process (assert(!this.paused), nodejs/undici#5360) when that close arrives while
 * the body is held back by backpressure, which is exactly what a slow destination does; Node's client is
 * correct but spends three times curl's CPU in per-record JS. So the data path reads the pinned socket
 * straight into 1 MiB blocks (block-socket-reader.ts) and frames the response itself (http-response-reader.ts).
 */
export async function openHostDownload(
  xapi: XapiSession,
  path: string,
  query: Record<string, string>,
  opts: { signal?: AbortSignal; context: ErrorContext; pool?: BlockPool },
): Promise<HostStream> {
  let url = new URL(path, xapi.url);
  for (const [k, v] of Object.entries({ session_id: xapi.sessionId, ...query })) url.searchParams.set(k, v);
  let pin = xapi.fingerprint;
  for (let hop = 0; ; hop++) {
    const context = { ...opts.context, host: url.host };
    const { reader, head, rest } = await get(url, pin, opts.signal, context, opts.pool);
    const status = head.statusCode;
    if (status === 301 || status === 302 || status === 307) {
      reader.destroy(new Error('redirected'));
      const location = head.headers.location;
      if (location === undefined || hop >= MAX_REDIRECTS) {
        throw new SluiceError('HOST_ERROR', 'The host redirected the export too many times or without a destination.', {
          context,
        });
      }
      const next = new URL(location, url);
      if (next.host !== url.host) pin = await pinOfPoolMember(xapi, next);
      url = next;
      continue;
    }
    if (status !== 200) {
      const text = await readSome(responseBody(reader, head, rest));
      reader.destroy(new Error('done'));
      throw httpStatusError(status, text, context);
    }
    const cancelled = () => new SluiceError('CANCELLED', 'The transfer was cancelled.', { context });
    const onAbort = () => reader.destroy(cancelled());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      body: checkEmbeddedError(
        bodyOf(reader, responseBody(reader, head, rest), opts.signal, onAbort, context),
        context,
      ),
      taskRef: head.headers['task-id'] ?? query.task_id,
      abort: (reason) =>
        reader.destroy(
          reason instanceof Error ? reason : new SluiceError('CANCELLED', 'The transfer was stopped.', { context }),
        ),
    };
  }
}

/**
 * One GET on a fresh pinned connection, read through a BlockSocketReader: Node's HTTP client would hand us the
 * body as one new 16 KiB Buffer per TLS record, which cost three times curl's CPU on a large export.
 */
async function get(
  url: URL,
  pin: string | null,
  signal: AbortSignal | undefined,
  context: ErrorContext,
  pool: BlockPool | undefined,
): Promise<{ reader: BlockSocketReader; head: HttpResponseHead; rest: Buffer }> {
  if (signal?.aborted) throw new SluiceError('CANCELLED', 'The transfer was cancelled.', { context });
  const reader = new BlockSocketReader(pool);
  const socket = await connectPinned(url, pin, reader.onread);
  reader.attach(socket);
  const onAbort = () => reader.destroy(new SluiceError('CANCELLED', 'The transfer was cancelled.', { context }));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    socket.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: Sluice\r\nConnection: close\r\n\r\n`,
    );
    const { head, rest } = await readResponseHead(reader);
    return { reader, head, rest };
  } catch (err) {
    reader.destroy(err instanceof Error ? err : new Error(String(err)));
    if (err instanceof SluiceError) throw err;
    if (err instanceof MalformedHttpResponse) {
      throw new SluiceError('HOST_ERROR', `The host's answer to the export was not valid HTTP: ${err.message}.`, {
        hint: 'Is this address an XCP-ng or XenServer host? Sluice retries by itself.',
        context,
        retryable: true,
      });
    }
    throw describeNetworkError(url.host, err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function* bodyOf(
  reader: BlockSocketReader,
  body: AsyncIterable<Buffer>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
  context: ErrorContext,
): AsyncGenerator<Buffer> {
  try {
    yield* body;
    // A body that ends by the host closing the connection looks the same whether the host finished or gave
    // up; the caller asks the host's task which it was.
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    if (signal?.aborted) throw new SluiceError('CANCELLED', 'The transfer was cancelled.', { context });
    throw describeNetworkError(context.host ?? '', err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.destroy(new Error('closed by Sluice'));
  }
}

async function readSome(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += chunk.toString('latin1', 0, Math.min(chunk.length, 400));
      if (text.length > 300) break;
    }
  } catch {
    // The status is what matters.
  }
  return text.slice(0, 300).trim();
}

function httpStatusError(status: number, text: string, context: ErrorContext): SluiceError {
  if (status === 401) {
    return new SluiceError('UNAUTHORIZED', 'The host refused our session on its data path (HTTP 401).', {
      hint: "Sluice logs in again by itself; if it persists, check the account's role.",
      context,
    });
  }
  if (status === 403 || status === 404) {
    return new SluiceError('HOST_ERROR', `The host has no such export (HTTP ${status}).`, {
      hint: 'Is this an XCP-ng or XenServer host of a supported version?',
      context,
    });
  }
  return new SluiceError('HOST_ERROR', `The host answered HTTP ${status} to the export${text ? `: ${text}` : ''}.`, {
    hint: "Check the host's log (xensource.log); Sluice retries by itself.",
    context,
    retryable: status >= 500,
  });
}

async function* checkEmbeddedError(body: AsyncIterable<Buffer>, context: ErrorContext): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const chunk of body) {
    if (head === undefined) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length < 5) continue;
    if (head.subarray(0, 5).toString('latin1') === 'HTTP/') {
      const line = head.toString('latin1').split(/\r?\n/)[0]!.slice(0, 200);
      throw new EmbeddedHttpError(line, context);
    }
    const first = head;
    head = undefined;
    yield first;
  }
  if (head !== undefined && head.length > 0) yield head;
}

/** A pool member's certificate, as the (already pinned) coordinator reports it. */
async function pinOfPoolMember(xapi: XapiSession, target: URL): Promise<string | null> {
  if (target.protocol !== 'https:') return null;
  const hosts = parseRecordMap(hostRecordSchema, await xapi.call('host.get_all_records'));
  const match = [...hosts.entries()].find(([, h]) => h.address === target.host || h.address === target.hostname);
  if (match) {
    try {
      return fingerprintOfPem(await xapi.call<string>('host.get_server_certificate', match[0]));
    } catch {
      // Older hosts lack the call: fall back to the coordinator's pin (pools often share one certificate).
    }
  }
  return xapi.fingerprint;
}
