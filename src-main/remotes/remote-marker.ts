import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileDurably } from '../core/durable-file.js';
import { describeFsError } from '../errors/fs-errors.js';
import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from './remote.js';

/**
 * How Sluice tells an unmounted share from an empty remote. A share that failed to mount leaves its mount point
 * as an empty folder on the local disk (cron's `sluice backup --remote /mnt/nas` after the NAS did not mount):
 * writing there would fill the local disk with backups nobody finds on the NAS. So the first time Sluice writes
 * to a remote it puts a marker at its top, and remembers (in its data folder) that it did and which mount held
 * the folder; a remote remembered with a marker that now shows none, or now sits on another mount, is refused
 * before anything is written. The marker is a dot file at the top, where Xen Orchestra reads only its own
 * names (xo-vm-backups/, xo-pool-metadata/, xo-config-backups/, encryption.json, metadata.json): XO ignores it,
 * and its check that a remote is empty before it sets up encryption skips dot files too (@xen-orchestra/fs).
 */
export const REMOTE_MARKER = '.sluice-remote.json';

/** The data folder's record of the remotes Sluice marked: `<dataDir>/remote-markers.json`. */
export const MARKED_REMOTES_FILE = 'remote-markers.json';

const markedSchema = z.object({
  version: z.literal(1),
  remotes: z.record(
    z.string(),
    z.object({
      markedAt: z.string(),
      /** The mount point of the file system that held the folder (a folder remote), when Sluice marked it. */
      mountPoint: z.string().optional(),
    }),
  ),
});
type Marked = z.infer<typeof markedSchema>;

async function readMarked(dataDir: string): Promise<Marked> {
  const file = path.join(dataDir, MARKED_REMOTES_FILE);
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw describeFsError(err, file, 'read');
  });
  if (text === undefined) return { version: 1, remotes: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = markedSchema.safeParse(json);
  // A damaged record must not stop backups; it only forgets which remotes were marked (they are marked again).
  return parsed.success ? parsed.data : { version: 1, remotes: {} };
}

/** `/mnt/nas/` and `/mnt/nas` are one remote. */
function keyOf(location: string): string {
  return path.isAbsolute(location) ? path.resolve(location) : location;
}

/**
 * The nearest mount point holding `dir` (the folder itself, or the first ancestor whose parent is on another
 * device), or undefined where the platform has no such notion here (Windows drive letters and UNC paths).
 */
export async function mountPointOf(dir: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined;
  let at = path.resolve(dir);
  let dev = (await fs.stat(at)).dev;
  for (;;) {
    const up = path.dirname(at);
    if (up === at) return at;
    const upDev = (await fs.stat(up)).dev;
    if (upDev !== dev) return at;
    at = up;
    dev = upDev;
  }
}

/** Where Linux says what should be mounted, and what is. */
export interface MountTables {
  fstab: string;
  mountinfo: string;
}
const LINUX_TABLES: MountTables = { fstab: '/etc/fstab', mountinfo: '/proc/self/mountinfo' };

/** fstab and mountinfo write a space in a path as \040 (and tab, newline, backslash likewise). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The mount point /etc/fstab names for `dir` (the folder or an ancestor, never `/`) while nothing is mounted
 * there: the cron-after-a-failed-mount case even on a machine that never ran Sluice before (no marker remembered).
 * undefined when there is none, off Linux, or when the tables cannot be read.
 */
export async function unmountedFstabMount(
  dir: string,
  tables: MountTables = LINUX_TABLES,
): Promise<string | undefined> {
  if (process.platform !== 'linux' || !path.isAbsolute(dir)) return undefined;
  const read = (f: string) => fs.readFile(f, 'utf8').catch(() => undefined);
  const [fstab, mountinfo] = await Promise.all([read(tables.fstab), read(tables.mountinfo)]);
  if (fstab === undefined || mountinfo === undefined) return undefined;
  const mounted = new Set(
    mountinfo
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined)
      .map(unescapeMountPath),
  );
  const target = path.resolve(dir);
  let found: string | undefined;
  for (const line of fstab.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || fields[0]!.startsWith('#')) continue;
    const at = unescapeMountPath(fields[1]!);
    if (!path.isAbsolute(at) || at === '/' || fields[2] === 'swap') continue;
    const mountPoint = path.resolve(at);
    const holds = target === mountPoint || target.startsWith(mountPoint + path.sep);
    if (holds && !mounted.has(mountPoint) && (!found || mountPoint.length > found.length)) found = mountPoint;
  }
  return found;
}

/**
 * Refuses a folder that /etc/fstab says is (under) a mount point while nothing is mounted there. Writes nothing.
 */
export async function refuseFstabUnmounted(remote: Remote, location: string, tables?: MountTables): Promise<void> {
  const mountPoint = await unmountedFstabMount(location, tables);
  if (mountPoint === undefined) return;
  throw new SluiceError(
    'NOT_FOUND',
    `The remote ${remote.label} is not mounted: /etc/fstab mounts a file system at ${mountPoint}, and nothing is mounted there now.`,
    {
      hint: `Mount it (\`mount ${mountPoint}\`; check the NAS, the network and the mount's credentials), then run again. Sluice writes nothing there meanwhile, so that backups never land on the local disk under the mount point.`,
      context: { remote: remote.label },
    },
  );
}

/**
 * Refuses a remote this data folder remembers marking when it is not the remote it marked: the marker gone (an
 * unmounted share's empty mount point), or the folder now on another mount. Writes nothing.
 */
export async function refuseUnmounted(remote: Remote, location: string, dataDir: string): Promise<void> {
  const known = (await readMarked(dataDir)).remotes[keyOf(location)];
  // A missing folder is the caller's to word ("does not exist"): this is about a folder that is there.
  if (!known || (await remote.stat('')) === undefined) return;
  const hint = (extra: string) =>
    `Mount the share (check the NAS, the network and the mount's credentials), then run again. Sluice writes nothing ` +
    `there meanwhile, so that backups never land on the local disk under the mount point. ${extra}`;
  if (known.mountPoint !== undefined) {
    const now = await mountPointOf(location).catch(() => undefined);
    if (now !== undefined && now !== known.mountPoint) {
      throw new SluiceError(
        'NOT_FOUND',
        `The remote ${remote.label} is not on the file system it was on: Sluice first wrote there on the one mounted at ${known.mountPoint}, and it is now on the one at ${now}, as when a share is not mounted.`,
        {
          hint: hint(
            `If the remote moved on purpose, remove its entry from ${path.join(dataDir, MARKED_REMOTES_FILE)}.`,
          ),
          context: { remote: remote.label },
        },
      );
    }
  }
  if ((await remote.stat(REMOTE_MARKER)) === undefined) {
    const empty = (await remote.list('')).length === 0;
    throw new SluiceError(
      'NOT_FOUND',
      `The remote ${remote.label} looks unmounted: Sluice's marker ${REMOTE_MARKER}, written there with its first backup, is missing${empty ? ' and the folder is empty' : ''}.`,
      {
        hint: hint(
          `If the remote was emptied on purpose, put the marker back: an empty file named ${REMOTE_MARKER} in it.`,
        ),
        context: { remote: remote.label },
      },
    );
  }
}

/**
 * Every refusal of an unmounted share that finds the folder there: /etc/fstab's (always), the marker's and the
 * mount point's (with the data folder). Writes nothing.
 */
export async function refuseUnmountedShare(remote: Remote, location: string, dataDir?: string): Promise<void> {
  await refuseFstabUnmounted(remote, location);
  if (dataDir !== undefined) await refuseUnmounted(remote, location, dataDir);
}

/**
 * Before the first write to a remote: its marker written when missing, and the remote remembered in the data
 * folder (with its mount point) so that a later run can tell it from an empty folder. Call refuseUnmounted first.
 */
export async function markRemote(remote: Remote, location: string, dataDir: string): Promise<void> {
  if ((await remote.stat(REMOTE_MARKER)) === undefined) {
    const body = JSON.stringify({
      sluice: 'remote marker',
      why: 'Sluice refuses to write to this remote when this file is missing: an unmounted share.',
      markedAt: new Date().toISOString(),
    });
    await remote.writeNew(REMOTE_MARKER, `${body}\n`).catch(async (err) => {
      // Another run marked it meanwhile: the marker is there, which is all that matters.
      if ((await remote.stat(REMOTE_MARKER)) === undefined) throw err;
    });
  }
  const marked = await readMarked(dataDir);
  if (marked.remotes[keyOf(location)]) return;
  // Only a folder (a full local path) has a mount point; a URL (an object store) has none.
  const mountPoint = path.isAbsolute(location) ? await mountPointOf(location).catch(() => undefined) : undefined;
  marked.remotes[keyOf(location)] = { markedAt: new Date().toISOString(), ...(mountPoint ? { mountPoint } : {}) };
  await fs.mkdir(dataDir, { recursive: true }).catch(() => {});
  await writeFileDurably(path.join(dataDir, MARKED_REMOTES_FILE), `${JSON.stringify(marked, null, 2)}\n`, {
    replace: true,
    mode: 0o600,
  }).catch((err: NodeJS.ErrnoException) => {
    throw new SluiceError(
      'INTERNAL',
      `Could not write ${path.join(dataDir, MARKED_REMOTES_FILE)}: ${err.code ?? err.message}.`,
      {
        hint: "Check that Sluice's data folder is writable (--data-dir, or $SLUICE_DATA_DIR).",
        context: { remote: remote.label },
        cause: err,
      },
    );
  });
}
