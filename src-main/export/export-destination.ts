import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';

/**
 * An export writes into a folder that is already there, as a backup writes only to a remote that is: a
 * missing folder is an unmounted drive or share, or a typo, and creating it would put a VM's disks on the
 * local disk instead. The one folder an export makes is the one `--out` (the Output path) names for the
 * files of several disks, inside a folder that exists; it says so when it does.
 */
export async function requireFolder(dir: string): Promise<void> {
  const st = await fs.stat(dir).catch(() => undefined);
  if (st?.isDirectory()) return;
  const problem = st ? `${dir} is a file, not a folder` : `The folder ${dir} does not exist`;
  throw new SluiceError('VALIDATION', `${problem}.`, {
    hint: st
      ? 'Choose an output path inside a folder. Nothing was written.'
      : 'Sluice does not create it, so that an unmounted drive or share cannot turn into files on the local disk: create the folder (or mount the drive) first, then export again. Nothing was written.',
    issues: [{ path: 'outPath', message: `${problem}: create it first, or choose another folder` }],
    context: { folder: dir },
  });
}

/** The check before an export starts: the folder that holds `out` (the file, or the folder of disk files). */
export function requireExportFolder(out: string): Promise<void> {
  return requireFolder(path.dirname(path.resolve(out)));
}
