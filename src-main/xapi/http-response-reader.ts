import type { BlockSocketReader } from './block-socket-reader.js';

/**
 * The response side of one HTTP/1.x exchange read from a BlockSocketReader: status line and headers, then the
 * body framed by Content-Length, chunked encoding, or (as XAPI's export handlers do) the connection's close.
 * Only what the host's data handlers need: no keep-alive, no trailers, no 1xx other than skipping 100.
 */
export interface HttpResponseHead {
  statusCode: number;
  statusLine: string;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
}

const MAX_HEAD_BYTES = 64 * 1024;

export class MalformedHttpResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedHttpResponse';
  }
}

export async function readResponseHead(reader: BlockSocketReader): Promise<{ head: HttpResponseHead; rest: Buffer }> {
  let buf = Buffer.alloc(0);
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end >= 0) {
      const head = parseHead(buf.subarray(0, end).toString('latin1'));
      const rest = buf.subarray(end + 4);
      if (head.statusCode === 100) {
        buf = Buffer.from(rest);
        continue;
      }
      return { head, rest };
    }
    if (buf.length > MAX_HEAD_BYTES) throw new MalformedHttpResponse('the response headers are larger than 64 KiB');
    const chunk = await reader.next();
    if (chunk === null)
      throw new MalformedHttpResponse(
        buf.length ? 'the connection closed inside the response headers' : 'the connection closed before any response',
      );
    // Headers are small: copying them out of the block keeps the block's body bytes zero-copy.
    buf = Buffer.concat([buf, chunk]);
  }
}

function parseHead(text: string): HttpResponseHead {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!m) throw new MalformedHttpResponse(`not an HTTP/1.x status line: "${statusLine.slice(0, 80)}"`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { statusCode: Number(m[1]), statusLine, headers };
}

/** The body's bytes, in the large chunks the reader delivers. Ends cleanly only where the framing says. */
export async function* responseBody(
  reader: BlockSocketReader,
  head: HttpResponseHead,
  rest: Buffer,
): AsyncGenerator<Buffer> {
  const te = head.headers['transfer-encoding']?.toLowerCase();
  if (te !== undefined && te.includes('chunked')) {
    yield* dechunk(reader, rest);
    return;
  }
  const lengthHeader = head.headers['content-length'];
  if (lengthHeader !== undefined) {
    let left = Number(lengthHeader);
    if (!Number.isSafeInteger(left) || left < 0)
      throw new MalformedHttpResponse(`bad Content-Length "${lengthHeader}"`);
    let chunk: Buffer | null = rest;
    while (left > 0) {
      if (chunk.length > 0) {
        const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= piece.length;
        yield piece;
      }
      if (left === 0) break;
      chunk = await reader.next();
      if (chunk === null)
        throw Object.assign(new Error(`the connection closed ${left} bytes before the end of the body`), {
          code: 'ECONNRESET',
        });
    }
    return;
  }
  // No framing: the body ends when the host closes the connection.
  if (rest.length > 0) yield rest;
  for (let chunk = await reader.next(); chunk !== null; chunk = await reader.next()) yield chunk;
}

/** Chunked transfer coding; the data bytes stay zero-copy slices of the reader's blocks. */
async function* dechunk(reader: BlockSocketReader, first: Buffer): AsyncGenerator<Buffer> {
  let buf: Buffer = first;
  const more = async (): Promise<void> => {
    const next = await reader.next();
    if (next === null)
      throw Object.assign(new Error('the connection closed inside a chunked body'), { code: 'ECONNRESET' });
    buf = buf.length ? Buffer.concat([buf, next]) : next;
  };
  for (;;) {
    let eol = buf.indexOf('\r\n');
    while (eol < 0) {
      if (buf.length > 1024) throw new MalformedHttpResponse('a chunk size line is too long');
      await more();
      eol = buf.indexOf('\r\n');
    }
    const size = parseInt(buf.subarray(0, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new MalformedHttpResponse('a chunk size is not a hexadecimal number');
    buf = buf.subarray(eol + 2);
    if (size === 0) return; // Trailers, if any, are not read: the connection is closed after the body.
    let left = size;
    while (left > 0) {
      if (buf.length === 0) await more();
      const piece = buf.length > left ? buf.subarray(0, left) : buf;
      buf = buf.subarray(piece.length);
      left -= piece.length;
      yield piece;
    }
    while (buf.length < 2) await more();
    buf = buf.subarray(2);
  }
}
