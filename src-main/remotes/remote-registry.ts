import { SluiceError } from '../errors/sluice-error.js';
import { folderRemoteKind } from './folder-remote-store.js';
import { markRemote, refuseUnmountedShare } from './remote-marker.js';
import type { Remote } from './remote.js';

/**
 * One kind of remote: which locations are its own (a CLI `--remote`, a saved remote's path or URL), which of
 * those are complete enough to save or use, and how to open one. Adding a kind (S3, SMB) is its own file
 * implementing `Remote` and one line in KINDS below; nothing else in the engine names a kind.
 */
export interface RemoteKind {
  readonly name: string;
  accepts(location: string): boolean;
  /** Throws a VALIDATION error when the location is the kind's but cannot name one place (a relative folder). */
  check(location: string): void;
  open(location: string): Remote;
}

/** In order: the first kind that accepts a location opens it. */
const KINDS: readonly RemoteKind[] = [folderRemoteKind];

function kindOf(location: string): RemoteKind {
  const kind = KINDS.find((k) => k.accepts(location));
  if (!kind)
    throw new SluiceError('VALIDATION', `No kind of remote Sluice knows takes "${location}".`, {
      hint: `Give ${KINDS.map((k) => k.name).join(' or ')}.`,
      context: { remote: location },
    });
  return kind;
}

/** The remote a location names, or a VALIDATION error saying which kinds there are. */
export function openRemote(location: string): Remote {
  return kindOf(location).open(location);
}

/**
 * The rule for a location an admin gives (the UI's Remotes form, the CLI's --remote): one a kind takes, and
 * complete (a folder is a full path), so nothing is ever read or written relative to where Sluice started.
 */
export function checkRemoteLocation(location: string): void {
  kindOf(location).check(location);
}

/**
 * The remote an admin named, checked by the rule above and proven to be there: a missing remote is an
 * unmounted share or a typo, never an empty repository, and Sluice never creates one in its place. With the
 * data folder, a remote Sluice marked before that shows no marker now (an unmounted share's empty mount point)
 * is refused too (remote-marker.ts); `forWriting` then marks the remote before the caller's first write.
 */
export async function openExistingRemote(
  location: string,
  opts: { dataDir?: string; forWriting?: boolean } = {},
): Promise<Remote> {
  checkRemoteLocation(location);
  const remote = openRemote(location);
  const top = await remote.stat('');
  if (top?.kind === 'folder') {
    await refuseUnmountedShare(remote, location, opts.dataDir);
    if (opts.dataDir !== undefined && opts.forWriting) await markRemote(remote, location, opts.dataDir);
    return remote;
  }
  throw new SluiceError(
    'NOT_FOUND',
    top ? `The remote ${remote.label} is a file, not a folder.` : `The remote ${remote.label} does not exist.`,
    {
      hint: top
        ? 'Give the folder that holds the backups.'
        : 'Check the path, and that the share is mounted. Sluice never creates a missing remote, so that an unmounted share does not turn into backups on the local disk.',
      context: { remote: remote.label },
    },
  );
}
