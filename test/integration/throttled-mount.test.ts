// Behaviour checks of the REAL slow destination (bench/throttlefs via FUSE): the throttle slows write
// syscalls, a stall blocks them, and the passthrough handles what a backup writer does.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
  truncate,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountedFsType, mountThrottled, throttledMountAvailable } from '../../bench/lib/throttled-mount.js';
import type { ThrottledMount } from '../../bench/lib/throttled-mount.js';

const MiB = 1024 * 1024;
const avail = throttledMountAvailable();
if (!avail.ok) console.warn(`throttled-mount tests SKIPPED: ${avail.why}`);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const seconds = (t0: number) => (performance.now() - t0) / 1000;

describe.skipIf(!avail.ok)('throttled FUSE mount (bench/throttlefs)', () => {
  let tmp = '';
  let backing = '';
  let mnt = '';
  let m: ThrottledMount | undefined;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sluice-throttlefs-'));
    backing = join(tmp, 'backing');
    await mkdir(backing);
    m = await mountThrottled({ backingDir: backing, mountPoint: join(tmp, 'mnt'), rateBytesPerSec: 8 * MiB });
    mnt = m.mountPoint;
  }, 60_000);

  afterAll(async () => {
    await m?.unmount();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('mounts as fuse.throttlefs', () => {
    expect(mountedFsType(mnt)).toBe('fuse.throttlefs');
  });

  it('throttles writes to the configured rate and stores identical data', async () => {
    const data = randomBytes(4 * MiB);
    const t0 = performance.now();
    await writeFile(join(mnt, 'a.bin'), data);
    const took = seconds(t0);
    // 4 MiB at 8 MiB/s is 0.5 s (minus a 64 KiB burst).
    expect(took).toBeGreaterThanOrEqual(0.4);
    expect(took).toBeLessThan(5);
    expect((await readFile(join(backing, 'a.bin'))).equals(data)).toBe(true);
    expect((await readFile(join(mnt, 'a.bin'))).equals(data)).toBe(true);
    const s = await m!.stats();
    expect(s.bytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(s.throttleWaitMs).toBeGreaterThanOrEqual(350);
  });

  it('is fast again at rate 0 (unlimited)', async () => {
    await m!.setRate(0);
    const data = randomBytes(4 * MiB);
    const t0 = performance.now();
    await writeFile(join(mnt, 'b.bin'), data);
    expect(seconds(t0)).toBeLessThan(0.35);
    expect((await readFile(join(backing, 'b.bin'))).equals(data)).toBe(true);
  });

  it('blocks a write for the whole stall, then completes it', async () => {
    await m!.setRate(0);
    const fh = await open(join(mnt, 'stalled.bin'), 'w');
    try {
      const before = (await m!.stats()).stalledWrites;
      await m!.stall(1000);
      const t0 = performance.now();
      let done = false;
      const write = fh.write(Buffer.alloc(64 * 1024, 7)).then((r) => {
        done = true;
        return r;
      });
      await sleep(500);
      expect(done).toBe(false); // still blocked inside the write syscall
      expect((await stat(join(mnt, 'a.bin'))).size).toBe(4 * MiB); // other operations are not stalled
      const { bytesWritten } = await write;
      const took = seconds(t0);
      expect(bytesWritten).toBe(64 * 1024);
      expect(took).toBeGreaterThanOrEqual(0.85);
      expect(took).toBeLessThan(5);
      expect((await m!.stats()).stalledWrites).toBeGreaterThan(before);
    } finally {
      await fh.close();
    }
    expect((await stat(join(backing, 'stalled.bin'))).size).toBe(64 * 1024);
  });

  it('unstall releases a writer blocked by an open-ended stall', async () => {
    const fh = await open(join(mnt, 'forever.bin'), 'w');
    try {
      await m!.stall(-1);
      const t0 = performance.now();
      const write = fh.write(Buffer.alloc(4096, 1));
      await sleep(300);
      await m!.unstall();
      await write;
      const took = seconds(t0);
      expect(took).toBeGreaterThanOrEqual(0.25);
      expect(took).toBeLessThan(3);
    } finally {
      await fh.close();
    }
  });

  it('passes through what a backup writer does: O_EXCL, fsync, truncate, rename, utimes, chmod, mkdir, readdir, unlink, rmdir', async () => {
    await mkdir(join(mnt, 'vm1'));
    const part = join(mnt, 'vm1', 'disk.vhd.partial');
    const fh = await open(part, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o640);
    await fh.write(Buffer.from('hello world'));
    await fh.truncate(5); // ftruncate
    await fh.sync(); // fsync
    await fh.datasync(); // fdatasync
    await fh.close();
    await expect(open(part, 'wx')).rejects.toMatchObject({ code: 'EEXIST' });

    await truncate(part, 4);
    const when = new Date('2020-01-02T03:04:05Z');
    await utimes(part, when, when);
    await chmod(part, 0o600);
    await rename(part, join(mnt, 'vm1', 'disk.vhd'));

    const st = await stat(join(backing, 'vm1', 'disk.vhd'));
    expect(st.size).toBe(4);
    expect(st.mtime.getTime()).toBe(when.getTime());
    expect(st.mode & 0o777).toBe(0o600);
    expect(await readFile(join(backing, 'vm1', 'disk.vhd'), 'utf8')).toBe('hell');
    expect(await readdir(join(mnt, 'vm1'))).toEqual(['disk.vhd']);

    await unlink(join(mnt, 'vm1', 'disk.vhd'));
    await rmdir(join(mnt, 'vm1'));
    await expect(stat(join(backing, 'vm1'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('passes statfs through and can fake a full remote', async () => {
    const [viaMount, direct] = await Promise.all([statfs(mnt), statfs(backing)]);
    expect(viaMount.blocks).toBe(direct.blocks);
    expect(viaMount.bsize).toBe(direct.bsize);

    await m!.setFakeFreeBytes(10 * MiB);
    const fake = await statfs(mnt);
    expect(fake.bavail * fake.bsize).toBeGreaterThan(9 * MiB);
    expect(fake.bavail * fake.bsize).toBeLessThanOrEqual(10 * MiB);
    await m!.setFakeFreeBytes(null);
    expect((await statfs(mnt)).blocks).toBe(direct.blocks);

    await m!.setFailWrites('ENOSPC');
    await expect(writeFile(join(mnt, 'full.bin'), 'x')).rejects.toMatchObject({ code: 'ENOSPC' });
    await m!.setFailWrites(null);
    await writeFile(join(mnt, 'full.bin'), 'x');
    await unlink(join(mnt, 'full.bin'));
  });

  it('throttles in page-cache mode (directIo: false) too', async () => {
    const b2 = join(tmp, 'backing2');
    await mkdir(b2);
    const m2 = await mountThrottled({
      backingDir: b2,
      mountPoint: join(tmp, 'mnt2'),
      rateBytesPerSec: 8 * MiB,
      directIo: false,
    });
    try {
      const data = randomBytes(2 * MiB);
      const t0 = performance.now();
      await writeFile(join(m2.mountPoint, 'c.bin'), data);
      const took = seconds(t0);
      expect(took).toBeGreaterThanOrEqual(0.2);
      expect(took).toBeLessThan(5);
      expect((await readFile(join(b2, 'c.bin'))).equals(data)).toBe(true);
    } finally {
      await m2.unmount();
    }
    expect(mountedFsType(m2.mountPoint)).toBeUndefined();
  });

  it('unmounts cleanly, even with a writer blocked in a stall, and leaves no mount behind', async () => {
    const fh = await open(join(mnt, 'pending.bin'), 'w');
    await m!.stall(-1);
    const write = fh.write(Buffer.alloc(4096, 2)).then(
      () => 'written',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await sleep(200);
    const t0 = performance.now();
    await m!.unmount();
    expect(seconds(t0)).toBeLessThan(5);
    expect(mountedFsType(mnt)).toBeUndefined();
    expect(await write).toBe('written'); // on shutdown a stall ends and the blocked write goes through
    await fh.close().catch(() => undefined); // the connection is gone: close may report it
    await m!.unmount(); // idempotent
    await expect(m!.setRate(1)).rejects.toThrow();
    // the files written through the mount stay in the backing dir
    expect((await stat(join(backing, 'a.bin'))).size).toBe(4 * MiB);
  });
});
