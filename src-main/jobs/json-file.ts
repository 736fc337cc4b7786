import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../core/durable-file.js';

/**
 * Small state files of the data dir (run records, scheduler state) that are rewritten in place: temp file,
 * fsync, rename over the old one, folder fsync. A power cut leaves the old version or the new one, never half.
 */
export async function replaceJsonFile(file: string, value: unknown): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileDurably(file, JSON.stringify(value), { mode: 0o600, replace: true });
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
