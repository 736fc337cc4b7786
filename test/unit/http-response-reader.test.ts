import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockSocketReader } from '../../src-main/xapi/block-socket-reader.js';
import { readResponseHead, responseBody } from '../../src-main/xapi/http-response-reader.js';
import { connectPinned } from '../../src-main/xapi/pinned-socket.js';
import { generateCertificate } from '../../src-sim/tls-certificate.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers every connection with `respond(socket)` after reading the request head. */
async function serve(respond: (socket: net.Socket) => void, secure?: { key: string; cert: string }): Promise<URL> {
  const onConnection = (socket: net.Socket) => {
    let head = '';
    socket.on('data', function onData(d) {
      head += String(d);
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        respond(socket);
      }
    });
    socket.on('error', () => {});
  };
  const server = secure ? tls.createServer(secure, onConnection) : net.createServer(onConnection);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return new URL(`${secure ? 'https' : 'http'}://127.0.0.1:${port}/export`);
}

async function fetchBody(url: URL, pin: string | null, consume?: (chunk: Buffer) => Promise<void>) {
  const reader = new BlockSocketReader();
  const socket = await connectPinned(url, pin, reader.onread);
  reader.attach(socket);
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  const { head, rest } = await readResponseHead(reader);
  const hash = createHash('sha256');
  let bytes = 0;
  let largest = 0;
  for await (const chunk of responseBody(reader, head, rest)) {
    hash.update(chunk);
    bytes += chunk.length;
    largest = Math.max(largest, chunk.length);
    await consume?.(chunk);
  }
  reader.destroy(new Error('done'));
  return { head, bytes, sha: hash.digest('hex'), largest };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the data path reads responses straight into blocks', () => {
  it('reads a close-delimited body (as XAPI exports are) byte for byte, in large chunks', async () => {
    const body = randomBytes(12 * 1024 * 1024 + 123);
    const url = await serve((s) => {
      s.write('HTTP/1.0 200 OK\r\nTask-Id: OpaqueRef:t1\r\nContent-Type: application/octet-stream\r\n\r\n');
      s.end(body);
    });
    // A slow consumer: the reader must pause the socket rather than queue the whole body.
    const r = await fetchBody(url, null, () => new Promise((res) => setTimeout(res, 2)));
    expect(r.head.statusCode).toBe(200);
    expect(r.head.headers['task-id']).toBe('OpaqueRef:t1');
    expect(r.bytes).toBe(body.length);
    expect(r.sha).toBe(sha(body));
    expect(r.largest).toBeGreaterThan(64 * 1024);
  });

  it('stops at Content-Length, and decodes a chunked body', async () => {
    const body = randomBytes(3 * 1024 * 1024);
    const sized = await serve((s) =>
      s.end(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`),
          body,
          Buffer.from('garbage after the body'),
        ]),
      ),
    );
    const a = await fetchBody(sized, null);
    expect([a.bytes, a.sha]).toEqual([body.length, sha(body)]);

    const chunked = await serve((s) => {
      s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let off = 0; off < body.length; off += 100_000) {
        const piece = body.subarray(off, off + 100_000);
        s.write(`${piece.length.toString(16)};ext=1\r\n`);
        s.write(piece);
        s.write('\r\n');
      }
      s.end('0\r\n\r\n');
    });
    const b = await fetchBody(chunked, null);
    expect([b.bytes, b.sha]).toEqual([body.length, sha(body)]);
  });

  it('works over pinned TLS, and reports a body cut before its Content-Length', async () => {
    const temp = makeTempDir('reader-tls-');
    const cert = await generateCertificate(temp.dir, 'reader.test').finally(temp.cleanup);
    const body = randomBytes(5 * 1024 * 1024);
    const url = await serve(
      (s) => {
        s.write('HTTP/1.1 200 OK\r\n');
        s.write('Content-Type: application/octet-stream\r\n\r\n');
        s.end(body);
      },
      { key: cert.key, cert: cert.cert },
    );
    const r = await fetchBody(url, cert.fingerprint);
    expect([r.bytes, r.sha]).toEqual([body.length, sha(body)]);

    const cut = await serve((s) =>
      s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n'), body.subarray(0, 1000)])),
    );
    await expect(fetchBody(cut, null)).rejects.toThrow(/closed 999000 bytes before the end/);
  });

  it('refuses what is not HTTP', async () => {
    const url = await serve((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    await expect(fetchBody(url, null)).rejects.toThrow(/not an HTTP\/1.x status line/);
  });
});

describe('BlockPool', () => {
  it('recycles a block only once the reader and every chunk cut from it let go', async () => {
    const { BlockPool } = await import('../../src-main/core/block-pool.js');
    const pool = new BlockPool(1024, 2);
    const a = pool.acquire();
    const piece1 = a.subarray(0, 100);
    const piece2 = a.subarray(100, 300);
    pool.retain(piece1);
    pool.retain(piece2);
    pool.release(a); // the reader moved on
    pool.release(piece1);
    expect(pool.acquire().buffer).not.toBe(a.buffer); // piece2 still holds it
    pool.release(piece2);
    expect(pool.acquire().buffer).toBe(a.buffer);
    pool.release(Buffer.alloc(10)); // not the pool's: ignored
  });

  it('delivers every byte intact when the reader recycles its blocks through a slow consumer', async () => {
    const { BlockPool } = await import('../../src-main/core/block-pool.js');
    const body = randomBytes(20 * 1024 * 1024);
    const url = await serve((s) => {
      s.write('HTTP/1.0 200 OK\r\n\r\n');
      s.end(body);
    });
    const pool = new BlockPool();
    const reader = new BlockSocketReader(pool);
    const socket = await connectPinned(url, null, reader.onread);
    reader.attach(socket);
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
    const { head, rest } = await readResponseHead(reader);
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of responseBody(reader, head, rest)) {
      await new Promise((r) => setTimeout(r, n++ % 5 === 0 ? 3 : 0));
      hash.update(chunk);
      pool.release(chunk); // done with it: its block may be refilled at once
    }
    reader.destroy(new Error('done'));
    expect(hash.digest('hex')).toBe(sha(body));
  });
});
