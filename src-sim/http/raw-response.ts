import type { Socket } from 'node:net';

// Responses written byte for byte, as xapi's own HTTP server writes them (status line, header order and
// spelling), instead of letting Node's HTTP server add Date, Content-Length or Transfer-Encoding.

export type HeaderList = ReadonlyArray<readonly [string, string]>;

const NO_CACHE: HeaderList = [['Cache-Control', 'no-cache, no-store']];

export function writeHead(socket: Socket, statusLine: string, headers: HeaderList): void {
  const lines = [statusLine, ...headers.map(([name, value]) => `${name}: ${value}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The head of a 200 that starts a transfer: `Connection: close`, no length, the task named. */
export function transferHead(version: '1.0' | '1.1', task: string, contentType?: string): [string, HeaderList] {
  const headers: Array<[string, string]> = [
    ['Connection', 'close'],
    ...NO_CACHE.map(([n, v]): [string, string] => [n, v]),
    ['task-id', task],
  ];
  if (contentType) headers.push(['content-type', contentType]);
  return [`HTTP/${version} 200 OK`, headers];
}

/** A complete short answer, then the connection closes (as xapi does for every error response). */
export function respondAndClose(socket: Socket, statusLine: string, extra: HeaderList = [], body = ''): void {
  if (socket.destroyed) return;
  writeHead(socket, statusLine, [
    ['Connection', 'close'],
    ...NO_CACHE,
    ...extra,
    ...(body ? ([['content-length', String(Buffer.byteLength(body))]] as const) : []),
  ]);
  socket.end(body);
}

export const respond = {
  unauthorized: (socket: Socket): void =>
    respondAndClose(socket, 'HTTP/1.1 401 Unauthorized', [['WWW-Authenticate', 'Basic realm="xapi"']]),
  forbidden: (socket: Socket): void => respondAndClose(socket, 'HTTP/1.1 403 Forbidden'),
  notFound: (socket: Socket): void => respondAndClose(socket, 'HTTP/1.1 404 Not Found'),
  badRequest: (socket: Socket, task?: string): void =>
    respondAndClose(socket, 'HTTP/1.1 400 Bad Request', task ? [['task-id', task]] : []),
  internalError: (socket: Socket, task?: string): void =>
    respondAndClose(socket, 'HTTP/1.1 500 Internal Error', task ? [['task-id', task]] : []),
  redirect: (socket: Socket, location: string): void =>
    respondAndClose(socket, 'HTTP/1.1 302 Found', [['Location', location]]),
};

/** What some hosts put inside a 200 body when a transfer fails before any data: a whole error response. */
export function embeddedErrorBody(description: string[]): string {
  const html =
    '<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. ' +
    `If the problem persists, please contact your support representative.<h1> Additional information </h1>${description.join(': ')}</body></html>`;
  return `HTTP/1.1 500 Internal Error\r\ncontent-length: ${Buffer.byteLength(html)}\r\ncontent-type: text/html\r\nconnection: close\r\ncache-control: no-cache, no-store\r\n\r\n${html}`;
}
