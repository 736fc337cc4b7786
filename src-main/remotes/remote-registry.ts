import { SluiceError } from '../errors/sluice-error.js';
import { folderRemoteKind } from './folder-remote-store.js';
import type { Remote } from './remote.js';

/**
 * One kind of remote: which locations are its own (a CLI `--remote`, a saved remote's path or URL) and how to
 * open one. Adding a kind (S3, SMB) is its own file implementing `Remote` and one line in KINDS below; nothing
 * else in the engine names a kind.
 */
export interface RemoteKind {
  readonly name: string;
  accepts(location: string): boolean;
  open(location: string): Remote;
}

/** In order: the first kind that accepts a location opens it. */
const KINDS: readonly RemoteKind[] = [folderRemoteKind];

/** The remote a location names, or a VALIDATION error saying which kinds there are. */
export function openRemote(location: string): Remote {
  const kind = KINDS.find((k) => k.accepts(location));
  if (!kind)
    throw new SluiceError('VALIDATION', `No kind of remote Sluice knows takes "${location}".`, {
      hint: `Give ${KINDS.map((k) => k.name).join(' or ')}.`,
      context: { remote: location },
    });
  return kind.open(location);
}
