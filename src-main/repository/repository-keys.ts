import path from 'node:path';
import { openRemote } from '../remotes/remote-registry.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey, keySegments, outsideRepository } from '../remotes/remote-key.js';
import { BACKUPS_DIR } from './repository-layout.js';

// The repository names its files by key on its Remote (see remotes/remote.ts). Names that come from inside
// the repository (a metadata file's `xva` and `vhds`, a VHD's parent locator) are resolved here and only here,
// and each must stay inside its VM folder: a hostile or damaged repository cannot make Sluice read, merge or
// delete anything else.

/** A repository given as a folder path (the CLI, tests) or as the remote it lives on. */
export type RepositoryRoot = string | Remote;

export function remoteOf(root: RepositoryRoot): Remote {
  return typeof root === 'string' ? openRemote(root) : root;
}

export function vmFolderKey(vmUuid: string): string {
  return joinKey(BACKUPS_DIR, vmUuid);
}

/** XO's listing cache of a VM folder (gzip JSON of its metadata, keyed by path), which XO rebuilds when absent. */
export function xoListingCacheKey(vmUuid: string): string {
  return joinKey(BACKUPS_DIR, vmUuid, 'cache.json.gz');
}

/** XO's `<vmUuid>.lock/` beside the VM folder. */
export function vmLockKey(vmUuid: string): string {
  return joinKey(BACKUPS_DIR, `${vmUuid}.lock`);
}

export function pointFileKeys(vmKey: string, ts: string) {
  return {
    metadata: joinKey(vmKey, `${ts}.json`),
    xva: joinKey(vmKey, `${ts}.xva`),
    xvaChecksum: joinKey(vmKey, `${ts}.xva.checksum`),
  };
}

/** The folder part of a key ('' at the top). */
export function parentKey(key: string): string {
  const at = key.lastIndexOf('/');
  return at < 0 ? '' : key.slice(0, at);
}

export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * A file named from repository content, relative to `fromFolder` (the metadata's folder for its `xva` and
 * `vhds`, the child's folder for a VHD parent): its key, proven to stay inside the VM folder `vmKey`.
 * Anything absolute, any `..` that climbs out, a drive letter or a NUL is refused with the name it came from.
 */
export function namedFileKey(vmKey: string, fromFolder: string, name: string, label: string): string {
  const slashed = name.replace(/\\/g, '/');
  if (slashed === '' || slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed) || slashed.includes('\0'))
    throw outsideRepository(name, label);
  const key = path.posix.normalize(path.posix.join(fromFolder, slashed));
  if (!key.startsWith(`${vmKey}/`)) throw outsideRepository(name, label);
  keySegments(key, label);
  return key;
}
