import http from 'node:http';
import { SluiceError, type ErrorContext } from '../errors/sluice-error.js';
import { describeNetworkError } from './host-unreachable.js';
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
      hint: 'The export failed on the host; Sluice retries it. If it persists, check the host\'s log (xensource.log).',
      context: { ...context, retryable: 'true' },
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
 * Node's own HTTP client, not undici, carries these bodies: the host ends them by closing the connection,
 * and undici 7 crashes the process (assert(!this.paused), nodejs/undici#5360) when that close arrives while
 * the body is held back by backpressure, which is exactly what a slow destination does.
 */
export async function openHostDownload(
  xapi: XapiSession,
  path: string,
  query: Record<string, string>,
  opts: { signal?: AbortSignal; context: ErrorContext },
): Promise<HostStream> {
  let url = new URL(path, xapi.url);
  for (const [k, v] of Object.entries({ session_id: xapi.sessionId, ...query })) url.searchParams.set(k, v);
  let pin = xapi.fingerprint;
  for (let hop = 0; ; hop++) {
    const context = { ...opts.context, host: url.host };
    const res = await get(url, pin, opts.signal, context);
    const status = res.statusCode ?? 0;
    if (status === 301 || status === 302 || status === 307) {
      res.destroy();
      const location = res.headers.location;
      if (typeof location !== 'string' || hop >= MAX_REDIRECTS) {
        throw new SluiceError('HOST_ERROR', 'The host redirected the export too many times or without a destination.', { context });
      }
      const next = new URL(location, url);
      if (next.host !== url.host) pin = await pinOfPoolMember(xapi, next);
      url = next;
      continue;
    }
    if (status !== 200) {
      const text = await readSome(res);
      throw httpStatusError(status, text, context);
    }
    const taskHeader = res.headers['task-id'];
    const onAbort = () => res.destroy(new SluiceError('CANCELLED', 'The transfer was cancelled.', { context }));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      body: checkEmbeddedError(bodyOf(res, opts.signal, onAbort, context), context),
      taskRef: typeof taskHeader === 'string' ? taskHeader : query.task_id,
      abort: (reason) => res.destroy(reason instanceof Error ? reason : new SluiceError('CANCELLED', 'The transfer was stopped.', { context })),
    };
  }
}

async function get(url: URL, pin: string | null, signal: AbortSignal | undefined, context: ErrorContext): Promise<http.IncomingMessage> {
  if (signal?.aborted) throw new SluiceError('CANCELLED', 'The transfer was cancelled.', { context });
  const socket = await connectPinned(url, pin);
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: 'GET',
      host: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: { host: url.host, 'user-agent': 'Sluice' },
      createConnection: () => socket,
    });
    const onAbort = () => req.destroy(new SluiceError('CANCELLED', 'The transfer was cancelled.', { context }));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('response', (res) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(res);
    });
    req.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err instanceof SluiceError ? err : describeNetworkError(url.host, err));
    });
    req.end();
  });
}

async function* bodyOf(res: http.IncomingMessage, signal: AbortSignal | undefined, onAbort: () => void, context: ErrorContext): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of res) yield chunk as Buffer;
    // A body that ends by the host closing the connection looks the same whether the host finished or gave
    // up; the caller asks the host's task which it was.
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    if (signal?.aborted) throw new SluiceError('CANCELLED', 'The transfer was cancelled.', { context });
    throw describeNetworkError(context.host ?? '', err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    res.destroy();
  }
}

async function readSome(res: http.IncomingMessage): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res) {
      text += String(chunk);
      if (text.length > 300) break;
    }
  } catch {
    // The status is what matters.
  }
  res.destroy();
  return text.slice(0, 300).trim();
}

function httpStatusError(status: number, text: string, context: ErrorContext): SluiceError {
  if (status === 401) {
    return new SluiceError('UNAUTHORIZED', 'The host refused our session on its data path (HTTP 401).', { hint: 'Sluice logs in again by itself; if it persists, check the account\'s role.', context });
  }
  if (status === 403 || status === 404) {
    return new SluiceError('HOST_ERROR', `The host has no such export (HTTP ${status}).`, { hint: 'Is this an XCP-ng or XenServer host of a supported version?', context });
  }
  return new SluiceError('HOST_ERROR', `The host answered HTTP ${status} to the export${text ? `: ${text}` : ''}.`, {
    hint: 'Check the host\'s log (xensource.log); Sluice retries by itself.',
    context: { ...context, retryable: status >= 500 ? 'true' : 'false' },
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
