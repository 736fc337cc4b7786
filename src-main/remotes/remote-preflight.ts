import { randomBytes } from 'node:crypto';
import { writeExactly } from '../core/random-access-file.js';
import { SluiceError } from '../errors/sluice-error.js';
import { FolderRemote } from './folder-remote-store.js';
import { preflightRemote, testRemote } from './folder-remote.js';
import { mediumOf, type Remote } from './remote.js';

/** What a remote proved before a run: it takes writes; how much room it has, where the medium says. */
export interface OpenedRemoteCheck {
  label: string;
  freeBytes: number | undefined;
  totalBytes: number | undefined;
}

export interface OpenedRemoteSpeedTest extends OpenedRemoteCheck {
  writeBytesPerSec: number;
  testedBytes: number;
}

/**
 * Before a run, on any kind of remote (already proven there by openExistingRemote): a folder writes and removes
 * a probe file and reports its free space; an object store writes a probe object, reads it back and deletes it
 * (which also proves the keys may write and delete, not only list). Nothing is left behind.
 */
export async function preflightOpenedRemote(remote: Remote): Promise<OpenedRemoteCheck> {
  // Probes go on the medium, under any layer (an encrypted remote's probe is a dot file XO ignores).
  const folder = mediumOf(remote);
  if (folder instanceof FolderRemote) {
    const r = await preflightRemote(folder.root, { create: false });
    // A file system that reports no blocks at all (smbnetfs) does not know its free space: it has not none.
    if (r.totalBytes === 0) return { label: remote.label, freeBytes: undefined, totalBytes: undefined };
    return { label: remote.label, freeBytes: r.freeBytes, totalBytes: r.totalBytes };
  }
  const key = `.sluice-probe-${process.pid}-${randomBytes(4).toString('hex')}`;
  const body = `sluice probe ${new Date().toISOString()}`;
  try {
    await remote.writeNew(key, body);
    const back = await remote.read(key, { maxBytes: 1024 });
    if (back.toString() !== body)
      throw new SluiceError('REMOTE_ERROR', `${remote.label} returned other bytes than a probe object held.`, {
        hint: 'Check the S3 server: it does not store objects faithfully.',
        context: { remote: remote.label },
      });
  } finally {
    await remote.delete(key).catch(() => {});
  }
  const space = await remote.freeSpace();
  return { label: remote.label, freeBytes: space?.freeBytes, totalBytes: space?.totalBytes };
}

/**
 * "Test" in the Remotes view: the preflight above, then the sustained write speed of `testBytes` written as
 * backups write (a folder: fsync'ed file; an object store: a multipart upload completed), then removed.
 */
export async function testOpenedRemote(remote: Remote, testBytes = 64 * 1024 * 1024): Promise<OpenedRemoteSpeedTest> {
  const folder = mediumOf(remote);
  if (folder instanceof FolderRemote) {
    const r = await testRemote(folder.root, testBytes);
    return { label: remote.label, ...r };
  }
  const check = await preflightOpenedRemote(remote);
  const key = `.sluice-speedtest-${process.pid}-${randomBytes(4).toString('hex')}`;
  const chunk = randomBytes(1024 * 1024);
  const t0 = performance.now();
  const upload = await remote.beginNew(key);
  try {
    for (let done = 0; done < testBytes; done += chunk.length)
      await writeExactly(upload.file, chunk.subarray(0, Math.min(chunk.length, testBytes - done)), done);
    await upload.commit();
  } catch (err) {
    await upload.abort();
    throw err;
  } finally {
    await remote.delete(key).catch(() => {});
  }
  const secs = (performance.now() - t0) / 1000;
  return { ...check, testedBytes: testBytes, writeBytesPerSec: secs > 0 ? testBytes / secs : 0 };
}
