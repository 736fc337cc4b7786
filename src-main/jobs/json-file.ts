import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { syncDir } from '../repository/atomic-file.js';

/**
 * Small state files of the data dir (run records, scheduler state) that are rewritten in place: temp file,
 * fsync, rename over the old one, folder fsync. A power cut leaves the old version or the new one, never half.
 */
export async function replaceJsonFile(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}-${randomBytes(3).toString('hex')}.tmp`,
  );
  const h = await fs.open(temp, 'wx', 0o600);
  try {
    await h.writeFile(JSON.stringify(value));
    await h.sync();
  } catch (err) {
    await h.close().catch(() => {});
    await fs.rm(temp, { force: true });
    throw err;
  }
  await h.close();
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await syncDir(path.dirname(file));
}

/** Serialises writes of one file, so an older state never lands after a newer one. */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
