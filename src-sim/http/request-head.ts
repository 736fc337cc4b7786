import type { Duplex } from 'node:stream';

// The first request head of a connection, read off the socket before deciding who handles it: the RPC
// endpoints go to Node's HTTP server, the data path is answered on the raw socket (exact headers, bodies
// delimited by the connection like a real host's).

export interface RequestHead {
  method: string;
  target: string;
  version: string;
  /** Lowercase names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

const MAX_HEAD = 64 * 1024;
const END = Buffer.from('\r\n\r\n');

export function parseRequestHead(text: string): RequestHead | undefined {
  const [requestLine, ...lines] = text.split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/(\d\.\d)$/.exec(requestLine ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method: m[1]!, target: m[2]!, version: m[3]!, headers };
}

export interface HeadRead {
  head: RequestHead | undefined;
  /** Every byte read so far (head and whatever followed). */
  raw: Buffer;
  /** The bytes after the head: the start of the body. */
  rest: Buffer;
}

/** Reads up to the end of the first head, then leaves the socket paused. Undefined if the peer went away. */
export function readRequestHead(socket: Duplex): Promise<HeadRead | undefined> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const finish = (result: HeadRead | undefined): void => {
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onGone);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(END);
      if (end >= 0) {
        const head = parseRequestHead(buffered.subarray(0, end).toString('latin1'));
        finish({ head, raw: buffered, rest: buffered.subarray(end + END.length) });
      } else if (buffered.length > MAX_HEAD) {
        finish({ head: undefined, raw: buffered, rest: Buffer.alloc(0) });
      }
    };
    const onGone = (): void => finish(undefined);
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onGone);
  });
}
