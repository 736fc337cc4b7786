import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { AtomicFile } from '../core/atomic-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { requireFolder } from './export-destination.js';

/**
 * The files of one export, all or nothing: each is written under a temp name in its destination folder and
 * sealed, and only when every one is complete are they renamed into place. A failure or a cancel at any point
 * removes every temp file (and the files already renamed, should a later rename fail), and the folders this
 * export created. Existing files are never replaced: a name already taken is refused before anything is written.
 */
export class ExportOutputs {
  private readonly files: AtomicFile[] = [];
  /** Folders made for this export (deepest last), removed again if it fails and they are empty. */
  private readonly madeDirs: string[] = [];

  private constructor(readonly targets: string[]) {}

  /**
   * Checks that none of `targets` exists (there is no overwrite option) and that their folders do; only
   * `makeFolder` (the folder that receives the files of several disks) is made when missing, and said.
   */
  static async claim(
    targets: string[],
    context: Record<string, string>,
    opts: { makeFolder?: string; log?: (message: string) => void } = {},
  ): Promise<ExportOutputs> {
    const outputs = new ExportOutputs(targets.map((t) => path.resolve(t)));
    const taken: string[] = [];
    for (const t of outputs.targets)
      if (
        await fs.lstat(t).then(
          () => true,
          () => false,
        )
      )
        taken.push(t);
    if (taken.length > 0) {
      throw new SluiceError(
        'CONFLICT',
        `Will not export over ${taken.length === 1 ? 'an existing file' : 'existing files'}: ${taken.join(', ')}.`,
        {
          hint: 'Nothing was written. Move or delete the existing file, or choose another --out.',
          context: { ...context, file: taken.join(', ') },
        },
      );
    }
    const makeFolder = opts.makeFolder === undefined ? undefined : path.resolve(opts.makeFolder);
    for (const dir of new Set(outputs.targets.map((t) => path.dirname(t)))) {
      if (dir !== makeFolder || (await isFolder(dir))) {
        await requireFolder(dir);
        continue;
      }
      await requireFolder(path.dirname(dir));
      await fs.mkdir(dir).catch((err) => {
        throw describeFsError(err, dir, 'create the folder');
      });
      outputs.madeDirs.push(dir);
      opts.log?.(`Created the folder ${dir} for the ${targets.length} disk files.`);
    }
    return outputs;
  }

  /** Opens the temp file of one target. */
  async open(target: string): Promise<AtomicFile> {
    const file = await AtomicFile.create(path.resolve(target));
    this.files.push(file);
    return file;
  }

  /** Renames every sealed file into place; if one fails, those already placed are removed again. */
  async placeAll(): Promise<void> {
    const placed: string[] = [];
    try {
      for (const f of this.files) {
        await f.place();
        placed.push(f.finalPath);
      }
    } catch (err) {
      await Promise.all(placed.map((p) => fs.unlink(p).catch(() => {})));
      throw err;
    }
  }

  /** Removes every temp file and the folders this export made (if empty). Safe after a partial placeAll. */
  async abortAll(): Promise<void> {
    await Promise.all(this.files.map((f) => f.abort()));
    for (const d of [...this.madeDirs].reverse()) await fs.rmdir(d).catch(() => {});
  }
}

function isFolder(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
