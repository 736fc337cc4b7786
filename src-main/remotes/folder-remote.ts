import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { describeFsError } from '../errors/fs-errors.js';

export interface RemoteCheck {
  path: string;
  writable: true;
  freeBytes: number;
  totalBytes: number;
}

export interface RemoteSpeedTest extends RemoteCheck {
  writeBytesPerSec: number;
  testedBytes: number;
}

/**
 * A remote is a folder: local disk or anything the OS mounts (NFS, SMB, a UNC path on Windows). Before a run
 * we prove it is there and writable and say how much room it has; nothing is left behind by the probe.
 */
export async function preflightRemote(
  dir: string,
  opts: { purpose?: 'remote' | 'spool'; create?: boolean } = {},
): Promise<RemoteCheck> {
  const side = opts.purpose ?? 'remote';
  const what = side === 'spool' ? 'spool folder' : 'remote';
  const st = await fs.stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' && opts.create !== false) return undefined;
    throw describeFsError(err, dir, `use the ${what}`, side);
  });
  if (st && !st.isDirectory()) {
    throw new SluiceError('REMOTE_ERROR', `The ${what} ${dir} is not a folder.`, {
      hint: 'Give the path of a folder.',
      context: { remote: dir },
    });
  }
  if (!st)
    await fs.mkdir(dir, { recursive: true }).catch((err) => {
      throw describeFsError(err, dir, `create the ${what}`, side);
    });
  const probe = path.join(dir, `.sluice-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.writeFile(probe, 'sluice', { flag: 'wx' });
  } catch (err) {
    throw describeFsError(err, dir, `write to the ${what}`, side);
  } finally {
    await fs.rm(probe, { force: true });
  }
  return { path: dir, writable: true, ...(await diskSpace(dir)) };
}

/**
 * What the file system holding `dir` has left (for an unprivileged writer) and holds in all. Both 0 where the
 * file system does not know (smbnetfs, an SMB mount through FUSE): callers read a total of 0 as "unknown".
 */
export async function diskSpace(dir: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const sfs = await fs.statfs(dir).catch((err) => {
    throw describeFsError(err, dir, 'read the free space of');
  });
  return { freeBytes: sfs.bavail * sfs.bsize, totalBytes: sfs.blocks * sfs.bsize };
}

/** Writes (and fsyncs) a test file to measure the remote's sustained write speed; removes it afterwards. */
export async function testRemote(dir: string, testBytes = 64 * 1024 * 1024): Promise<RemoteSpeedTest> {
  const check = await preflightRemote(dir, { create: false });
  // A share that reports no size (smbnetfs says 0 of 0) is tested with the full amount, not with 0 bytes.
  const bytes = check.totalBytes > 0 ? Math.min(testBytes, Math.max(0, Math.floor(check.freeBytes / 4))) : testBytes;
  const file = path.join(dir, `.sluice-speedtest-${process.pid}-${randomBytes(4).toString('hex')}`);
  const chunk = randomBytes(1024 * 1024);
  const t0 = performance.now();
  const h = await fs.open(file, 'wx');
  try {
    for (let done = 0; done < bytes; done += chunk.length)
      await h.write(chunk, 0, Math.min(chunk.length, bytes - done));
    await h.sync();
  } catch (err) {
    throw describeFsError(err, dir, 'write a test file to');
  } finally {
    await h.close().catch(() => {});
    await fs.rm(file, { force: true });
  }
  const secs = (performance.now() - t0) / 1000;
  return { ...check, testedBytes: bytes, writeBytesPerSec: secs > 0 ? bytes / secs : 0 };
}
