import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHead } from './request-head.js';

/** One data-path request, however it arrived (first on its connection, or on a kept-alive one). */
export interface HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  /** The connection: responses are written on it directly, byte for byte. */
  readonly socket: Socket;
  /** The request body: Content-Length bytes, else everything until the client half-closes. */
  body(): AsyncIterable<Buffer>;
}

function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const url = new URL(target, 'http://host');
  return { path: url.pathname, query: url.searchParams };
}

/** An exchange read off a fresh connection by the router; `rest` holds the body bytes already read. */
export function exchangeFromHead(head: RequestHead, socket: Socket, rest: Buffer): HttpExchange {
  const { path, query } = splitTarget(head.target);
  const lengthHeader = head.headers['content-length'];
  const length = lengthHeader === undefined ? undefined : Number(lengthHeader);
  return {
    method: head.method,
    path,
    query,
    headers: head.headers,
    socket,
    body: () => socketBody(socket, rest, length),
  };
}

/** An exchange that came through Node's HTTP server (a request on a kept-alive connection). */
export function exchangeFromRequest(req: IncomingMessage): HttpExchange {
  const { path, query } = splitTarget(req.url ?? '/');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { method: req.method ?? 'GET', path, query, headers, socket: req.socket, body: () => req };
}

async function* socketBody(socket: Socket, rest: Buffer, length: number | undefined): AsyncGenerator<Buffer> {
  let remaining = length ?? Infinity;
  if (rest.length > 0 && remaining > 0) {
    const piece = rest.subarray(0, Math.min(rest.length, remaining));
    remaining -= piece.length;
    yield piece;
  }
  if (remaining <= 0) return;
  // Leave the socket open when the body is done: the response still has to go out on it.
  for await (const chunk of socket.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    const piece = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
    remaining -= piece.length;
    yield piece;
    if (remaining <= 0) return;
  }
}
