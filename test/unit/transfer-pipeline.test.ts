import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from '../../src-main/core/block-pool.js';
import { preflightRemote } from '../../src-main/remotes/folder-remote.js';
import { SpoolBuffer } from '../../src-main/transfer/spool/spool-buffer.js';
import { Transfer } from '../../src-main/transfer/transfer-pipeline.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function* chunks(data: Buffer, size: number, delayMs = 0) {
  for (let o = 0; o < data.length; o += size) {
    if (delayMs) await sleep(delayMs);
    yield data.subarray(o, o + size);
  }
}

const canMount = process.getuid?.() === 0;

describe('SpoolBuffer', () => {
  it.skipIf(!canMount)('names the spool, not the remote, when the spool disk is full', async () => {
    const dir = temp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
    try {
      const buf = new SpoolBuffer({
        memoryCapBytes: 64 * 1024,
        spoolCapBytes: 4 * 1024 * 1024,
        spoolDir: dir,
        blockBytes: 64 * 1024,
        spillAfterMs: 0,
      });
      let failure: unknown;
      try {
        for (let i = 0; i < 64; i++) await buf.push(randomBytes(64 * 1024)); // nobody reads: it must spill
      } catch (err) {
        failure = err;
      }
      await buf.close();
      expect(failure).toMatchObject({ code: 'REMOTE_ERROR', context: { spool: expect.stringContaining(dir) } });
      const { message, hint } = failure as { message: string; hint: string };
      expect(message).toContain(`the spool file in ${dir}`);
      expect(message).toContain('the local disk of the spool is full');
      expect(message).not.toMatch(/ENOSPC/);
      expect(hint).toMatch(/spool folder/);
      expect(hint).not.toMatch(/space on the remote/);
      // A spool folder already full before the run: the same side named at the preflight.
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${dir}/filler`, 'bs=64k', 'count=8'], { stdio: 'ignore' });
      } catch {
        // dd stops at the full disk, which is the point
      }
      const atStart = await preflightRemote(dir, { purpose: 'spool' }).catch((err: unknown) => err);
      expect(atStart).toMatchObject({
        code: 'REMOTE_ERROR',
        message: expect.stringContaining('the local disk of the spool is full'),
      });
      expect((atStart as { hint: string }).hint).toMatch(/spool folder/);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('keeps order across memory and a wrapping ring spool, within both caps', async () => {
    const dir = temp();
    const buf = new SpoolBuffer({
      memoryCapBytes: 10_000,
      spoolCapBytes: 25_000,
      spoolDir: dir,
      blockBytes: 7_000,
      spillAfterMs: 0,
    });
    const data = randomBytes(400_000);
    const out: Buffer[] = [];
    let maxMem = 0;
    let maxSpool = 0;
    const producer = (async () => {
      for await (const c of chunks(data, 3_001)) {
        await buf.push(Buffer.from(c));
        maxMem = Math.max(maxMem, buf.stats.memoryBytes);
        maxSpool = Math.max(maxSpool, buf.stats.spoolBytes);
      }
      buf.end();
    })();
    for (;;) {
      const c = await buf.shift();
      if (!c) break;
      out.push(c);
      await sleep(out.length % 7 === 0 ? 5 : 1); // a slow, bursty consumer
    }
    await producer;
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(maxMem).toBeLessThanOrEqual(10_000);
    expect(maxSpool).toBeLessThanOrEqual(25_000);
    expect(buf.stats.spoolPeakBytes).toBeGreaterThan(10_000); // the spool really was used
    await buf.close();
    expect(readdirSync(dir)).toEqual([]); // the spool file never outlives the buffer
  });

  it('keeps large chunks without copying, counting each block they share once, within the cap', async () => {
    const dir = temp();
    const buf = new SpoolBuffer({
      memoryCapBytes: 4 * 1024 * 1024,
      spoolCapBytes: 8 * 1024 * 1024,
      spoolDir: dir,
      spillAfterMs: 0,
    });
    // As the socket reader delivers them: slices of 1 MiB blocks, some large (kept), some small (copied).
    const blocks = Array.from({ length: 24 }, () => randomBytes(1024 * 1024));
    const sizes = [300 * 1024, 600 * 1024, 124 * 1024];
    const pieces = blocks.flatMap((b) => [
      b.subarray(0, sizes[0]),
      b.subarray(sizes[0], sizes[0]! + sizes[1]!),
      b.subarray(sizes[0]! + sizes[1]!),
    ]);
    const out: Buffer[] = [];
    let maxMem = 0;
    let kept = 0;
    const producer = (async () => {
      for (const p of pieces) {
        await buf.push(p);
        maxMem = Math.max(maxMem, buf.stats.memoryBytes);
      }
      buf.end();
    })();
    for (;;) {
      const c = await buf.shift();
      if (!c) break;
      if (pieces.some((p) => p === c)) kept++;
      out.push(Buffer.from(c));
      await sleep(2);
    }
    await producer;
    expect(Buffer.concat(out).equals(Buffer.concat(blocks))).toBe(true);
    expect(kept).toBeGreaterThan(0);
    expect(maxMem).toBeLessThanOrEqual(4 * 1024 * 1024);
    await buf.close();
  });

  it('joins a piece that continues the queued one in its block: no copy, one write, the block recycled once', async () => {
    const pool = new BlockPool(1024 * 1024);
    const buf = new SpoolBuffer({ memoryCapBytes: 4 * 1024 * 1024, spoolCapBytes: 0, pool });
    const block = pool.acquire();
    randomBytes(1024 * 1024).copy(block);
    // As the socket reader hands a block out: each piece holds the block, the reader its own hold.
    const a = block.subarray(0, 300 * 1024);
    const b = block.subarray(300 * 1024, 400 * 1024); // small: copied before this existed
    pool.retain(a);
    pool.retain(b);
    expect(await buf.push(a)).toBe(true);
    expect(await buf.push(b)).toBe(true);
    buf.end();
    const got = (await buf.shift())!;
    expect(got.buffer).toBe(block.buffer);
    expect(got.byteOffset).toBe(0);
    expect(got.equals(block.subarray(0, 400 * 1024))).toBe(true);
    expect(await buf.shift()).toBeNull();
    pool.release(got); // the consumer, once written
    pool.release(block); // the reader, moving on to a new block
    expect(pool.acquire().buffer).toBe(block.buffer); // back in the pool: no hold leaked
    await buf.close();
  });

  it('slows the producer to the consumer pace in small steps when everything is full', async () => {
    const buf = new SpoolBuffer({ memoryCapBytes: 8_192, spoolCapBytes: 0 });
    const pushTimes: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 40; i++) {
        await buf.push(Buffer.alloc(1024, i));
        pushTimes.push(performance.now());
      }
      buf.end();
    })();
    await sleep(50);
    // Full after 8 chunks; nothing more enters until the consumer takes some.
    expect(pushTimes.length).toBe(8);
    let n = 0;
    for (let c = await buf.shift(); c; c = await buf.shift()) {
      n += c.length;
      await sleep(2);
    }
    await producer;
    expect(n).toBe(40 * 1024);
  });

  it('follows a destination that keeps moving without spilling, and spills when it stops', async () => {
    const dir = temp();
    const run = async (pauseMs: number) => {
      const buf = new SpoolBuffer({
        memoryCapBytes: 64 * 1024,
        spoolCapBytes: 1024 * 1024,
        spoolDir: dir,
        blockBytes: 8 * 1024,
        spillAfterMs: 100,
      });
      const producer = (async () => {
        for (let i = 0; i < 64; i++) await buf.push(Buffer.alloc(8 * 1024, i));
        buf.end();
      })();
      let n = 0;
      for (let c = await buf.shift(); c; c = await buf.shift()) {
        n += c.length;
        if (n === 32 * 1024)
          await sleep(pauseMs); // the destination pauses once
        else await sleep(1);
      }
      await producer;
      expect(n).toBe(64 * 8 * 1024);
      return buf.stats.spoolPeakBytes;
    };
    expect(await run(20)).toBe(0);
    expect(await run(400)).toBeGreaterThan(0);
  });

  it('propagates a failure to both sides', async () => {
    const buf = new SpoolBuffer({ memoryCapBytes: 10, spoolCapBytes: 0 });
    const waiting = buf.push(Buffer.alloc(100));
    buf.fail(new Error('disk full'));
    await expect(waiting).rejects.toThrow('disk full');
    await expect(buf.shift()).rejects.toThrow('disk full');
  });
});

describe('Transfer', () => {
  it('moves every byte in order from a fast source to a slow sink through the spool', async () => {
    const dir = temp();
    const data = randomBytes(2_000_000);
    const written: Buffer[] = [];
    const t = new Transfer({
      source: chunks(data, 65_536),
      sink: { write: async (c) => void (written.push(Buffer.from(c)), await sleep(3)) },
      buffer: { memoryCapBytes: 200_000, spoolCapBytes: 600_000, spoolDir: dir, spillAfterMs: 0 },
    });
    const counters = await t.run();
    expect(Buffer.concat(written).equals(data)).toBe(true);
    expect(counters.bytesRead).toBe(data.length);
    expect(counters.bytesWritten).toBe(data.length);
    expect(counters.buffer.spoolPeakBytes).toBeGreaterThan(0);
    expect(counters.buffer.spoolPeakBytes).toBeLessThanOrEqual(600_000);
  });

  it('stops the source when the sink fails, and reports the sink error', async () => {
    let sourceStopped = false;
    async function* endless() {
      try {
        for (;;) {
          await sleep(1);
          yield Buffer.alloc(1000);
        }
      } finally {
        sourceStopped = true;
      }
    }
    const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    let seen = 0;
    const aborter = new AbortController();
    const t = new Transfer({
      source: endless(),
      sink: {
        write: async () => {
          if (++seen === 20) throw enospc;
        },
      },
      buffer: { memoryCapBytes: 5000, spoolCapBytes: 0 },
      onFailure: () => aborter.abort(),
    });
    await expect(t.run()).rejects.toBe(enospc);
    expect(sourceStopped).toBe(true);
  });
});
