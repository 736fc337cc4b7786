import { SluiceError } from '../errors/sluice-error.js';
import { EncryptedRemote } from './encrypted-remote.js';
import { remoteKeyOf } from './encryption-keys.js';
import { FolderRemote, folderRemoteKind } from './folder-remote-store.js';
import { markRemote, refuseUnmountedShare } from './remote-marker.js';
import type { Remote } from './remote.js';
import { s3RemoteKind, type S3Credentials } from './s3-remote.js';

/**
 * What opening a remote may need besides its location: the keys of an S3 remote (a saved remote's, from the
 * secret store). Without them an S3 location takes AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 */
export interface OpenRemoteOptions {
  credentials?: S3Credentials;
}

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
  open(location: string, opts?: OpenRemoteOptions): Remote;
}

/** In order: the first kind that accepts a location opens it. */
const KINDS: readonly RemoteKind[] = [s3RemoteKind, folderRemoteKind];

function kindOf(location: string): RemoteKind {
  const kind = KINDS.find((k) => k.accepts(location));
  if (!kind)
    throw new SluiceError('VALIDATION', `No kind of remote Sluice knows takes "${location}".`, {
      hint: `Give ${KINDS.map((k) => k.name).join(' or ')}.`,
      context: { remote: location },
    });
  return kind;
}

/**
 * The remote a location names, or a VALIDATION error saying which kinds there are. Always behind the
 * encryption layer: with the key this process holds for the location, or with none (an encrypted remote is
 * then refused at its first use, never read as if it were plain).
 */
export function openRemote(location: string, opts: OpenRemoteOptions = {}): Remote {
  return layered(location, opts);
}

function layered(location: string, opts: OpenRemoteOptions, key = remoteKeyOf(location)): EncryptedRemote {
  return new EncryptedRemote(kindOf(location).open(location, opts), key);
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
  opts: OpenRemoteOptions & { key?: Buffer; dataDir?: string; forWriting?: boolean } = {},
): Promise<Remote> {
  checkRemoteLocation(location);
  const remote = layered(location, opts, opts.key ?? remoteKeyOf(location));
  const top = await remote.inner.stat('');
  if (top?.kind === 'folder') {
    // Only a folder can be an unmounted share; the marker lives on the medium, under any encryption. Refused
    // before the key is proven: proving sets up an empty folder as an encrypted remote.
    const folder = remote.inner instanceof FolderRemote ? remote.inner : undefined;
    if (folder) await refuseUnmountedShare(folder, location, opts.dataDir);
    // The key is proven (or an encrypted remote without one refused) here, before any command goes on.
    await remote.prove();
    if (folder && opts.dataDir !== undefined && opts.forWriting) await markRemote(folder, location, opts.dataDir);
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
