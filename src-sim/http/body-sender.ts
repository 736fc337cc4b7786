import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { VDI_IO_ERROR } from '../model/xapi-error.js';

export interface SendOptions {
  /** Give up when a write has waited this long for the client to read (vhd-tool 0.20's EAGAIN limit). */
  stallAbortMs?: number;
  /** Cut the connection after this many body bytes. */
  dropAfterBytes?: number;
  /** Wait before the first body byte. */
  firstByteDelayMs?: number;
  /** Aborts on task cancel or client disconnect. */
  signal: AbortSignal;
  onBytes(n: number): void;
}

type DrainOutcome = 'drain' | 'timeout' | 'closed';

function waitForDrain(socket: Socket, timeoutMs: number | undefined, signal: AbortSignal): Promise<DrainOutcome> {
  return new Promise((resolve) => {
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => done('timeout'), timeoutMs);
    const onDrain = (): void => done('drain');
    const onClose = (): void => done('closed');
    socket.once('drain', onDrain);
    socket.once('close', onClose);
    signal.addEventListener('abort', onClose, { once: true });
    function done(outcome: DrainOutcome): void {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onClose);
      resolve(outcome);
    }
  });
}

/** Destroys the socket once what was written has left, so the client gets exactly the bytes sent. */
function cutAfterFlush(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.write(Buffer.alloc(0), () => {
      socket.destroy();
      resolve();
    });
  });
}

/**
 * Streams `source` to the client with backpressure: the source is pulled only when the socket can take more,
 * so a slow client slows production instead of growing buffers. Failures end the connection and throw
 * VDI_IO_ERROR, which is how a real host reports a transfer that died after its 200.
 */
export async function sendBody(socket: Socket, source: AsyncIterable<Buffer>, opts: SendOptions): Promise<void> {
  const gone = (): boolean => socket.destroyed || !socket.writable;
  if (opts.firstByteDelayMs) await sleep(opts.firstByteDelayMs, undefined, { signal: opts.signal });
  let sent = 0;
  for await (let chunk of source) {
    opts.signal.throwIfAborted();
    if (gone()) throw VDI_IO_ERROR();
    let cut = false;
    if (opts.dropAfterBytes !== undefined && sent + chunk.length >= opts.dropAfterBytes) {
      chunk = chunk.subarray(0, opts.dropAfterBytes - sent);
      cut = true;
    }
    const ok = chunk.length === 0 || socket.write(chunk);
    sent += chunk.length;
    opts.onBytes(chunk.length);
    if (cut) {
      await cutAfterFlush(socket);
      throw VDI_IO_ERROR();
    }
    if (!ok) {
      const outcome = await waitForDrain(socket, opts.stallAbortMs, opts.signal);
      opts.signal.throwIfAborted();
      if (outcome !== 'drain') {
        socket.destroy();
        throw VDI_IO_ERROR();
      }
    }
  }
  await new Promise<void>((resolve, reject) => {
    if (gone()) return reject(VDI_IO_ERROR());
    socket.end(() => resolve());
    socket.once('error', () => reject(VDI_IO_ERROR()));
  });
}
