import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { ALIAS_MAX_BYTES, isAliasName, type VhdDirectoryStore } from '../formats/vhd/vhd-directory.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey, keySegments } from '../remotes/remote-key.js';
import { baseName, parentKey } from './repository-keys.js';
import { isTemporaryName } from './repository-layout.js';

// VHD directories on a remote (formats/vhd/vhd-directory.ts has the layout): the alias a point names, the
// directory it resolves to, and the objects under it. An alias comes from the repository, which may be
// hostile: its target is followed only when it stays inside the alias's own VM folder
// (`xo-vm-backups/<vm>/`), is not itself an alias, and is a folder; anything else is refused, never followed.

/** A directory's objects through the remote, by name relative to `dirKey`. */
export function remoteDirectoryStore(remote: Remote, dirKey: string): VhdDirectoryStore {
  const key = (name: string) => joinKey(dirKey, name);
  return {
    label: remote.displayPath(dirKey),
    read: (name, maxBytes) => remote.readIfExists(key(name), { maxBytes }),
    writeNew: (name, data) => remote.writeNew(key(name), data),
    overwrite: (name, data) => remote.overwrite(key(name), data),
    delete: (name) => remote.delete(key(name)),
  };
}

/** The folder an alias confines its target to: its VM folder, or (outside the usual layout) its own folder. */
function confinementOf(aliasKey: string): string {
  const parts = aliasKey.split('/');
  return parts[0] === 'xo-vm-backups' && parts.length > 3 ? parts.slice(0, 2).join('/') : parentKey(aliasKey);
}

/** Why an alias cannot be followed, as check and verify name it. */
export class BrokenAliasError extends SluiceError {
  constructor(
    readonly alias: string,
    reason: string,
  ) {
    super('REMOTE_ERROR', `The VHD alias ${alias} ${reason}.`, {
      hint: 'An incremental disk on this remote is a VHD directory named by this alias; the point that names it cannot be restored from it. Run `sluice check` to see what else depends on it.',
      context: { remote: alias },
      damage: { kind: 'path', file: alias },
    });
    this.name = 'BrokenAliasError';
  }
}

/** The text an alias holds, as XO writes it (`data/<ts>.vhd`), and the key it resolves to, confined. */
export async function resolveAlias(remote: Remote, aliasKey: string): Promise<{ target: string; dirKey: string }> {
  const shown = remote.displayPath(aliasKey);
  let raw: Buffer;
  try {
    raw = await remote.read(aliasKey, { maxBytes: ALIAS_MAX_BYTES });
  } catch (err) {
    if (err instanceof SluiceError && err.damage?.kind === 'size')
      throw new BrokenAliasError(shown, `is larger than the ${ALIAS_MAX_BYTES} bytes an alias can be`);
    throw err;
  }
  const target = raw.toString('utf8').trim();
  if (target === '') throw new BrokenAliasError(shown, 'is empty');
  if (isAliasName(target)) throw new BrokenAliasError(shown, `names another alias (${target}), which XO forbids`);
  if (target.startsWith('/') || target.includes('\\') || target.includes('\0'))
    throw new BrokenAliasError(shown, `names "${target}", which is not a path relative to the alias`);
  const resolved = path.posix.normalize(path.posix.join(parentKey(aliasKey), target));
  const within = confinementOf(aliasKey);
  if (resolved === within || !resolved.startsWith(`${within}/`) || resolved.startsWith('../')) {
    throw new BrokenAliasError(
      shown,
      `names "${target}", which is outside its VM folder ${remote.displayPath(within)}: Sluice never follows it`,
    );
  }
  keySegments(resolved, remote.label);
  return { target, dirKey: resolved };
}

/**
 * Whether a folder prefix holds anything. A folder remote says so by stat; an object store has no folders, only
 * keys under a prefix, so a listing decides there.
 */
export async function directoryExists(remote: Remote, key: string): Promise<boolean> {
  const st = await remote.stat(key);
  if (st?.kind === 'folder') return true;
  if (st?.kind === 'file') return false;
  return (await remote.list(key)).length > 0;
}

/** The directory of an alias, checked to be a folder there. */
export async function aliasDirectory(remote: Remote, aliasKey: string): Promise<string> {
  const { target, dirKey } = await resolveAlias(remote, aliasKey);
  if (!(await directoryExists(remote, dirKey))) {
    const st = await remote.stat(dirKey);
    throw new BrokenAliasError(
      remote.displayPath(aliasKey),
      st ? `names ${target}, which is a file, not a VHD directory` : `names ${target}, which is missing`,
    );
  }
  return dirKey;
}

/** Every object under a folder prefix (depth first), as keys. */
export async function listObjectsUnder(remote: Remote, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await remote.list(prefix)) {
    const key = joinKey(prefix, e.name);
    if (e.kind === 'folder') out.push(...(await listObjectsUnder(remote, key)));
    else out.push(key);
  }
  return out;
}

/** Removes a directory's objects (its header first: a directory cut short never opens), then its folders. */
export async function deleteDirectory(remote: Remote, dirKey: string): Promise<number> {
  const objects = await listObjectsUnder(remote, dirKey);
  const header = joinKey(dirKey, 'header');
  objects.sort((a, b) => (a === header ? -1 : b === header ? 1 : 0));
  for (const key of objects) await remote.delete(key);
  await removeFoldersUnder(remote, dirKey);
  return objects.length;
}

async function removeFoldersUnder(remote: Remote, prefix: string): Promise<void> {
  for (const e of await remote.list(prefix))
    if (e.kind === 'folder') await removeFoldersUnder(remote, joinKey(prefix, e.name));
  await remote.removeEmptyFolder(prefix);
}

/**
 * Deletes the VHD an alias names (when it can be followed) and then the alias. A broken alias goes alone:
 * whatever it names is never touched.
 */
export async function deleteAliasAndDirectory(remote: Remote, aliasKey: string): Promise<string[]> {
  const removed: string[] = [];
  const dirKey = await aliasDirectory(remote, aliasKey).catch(() => undefined);
  if (dirKey !== undefined && (await othersNaming(remote, aliasKey, dirKey)).length === 0) {
    await deleteDirectory(remote, dirKey);
    removed.push(remote.displayPath(dirKey));
    const data = parentKey(dirKey);
    if (baseName(data) === 'data') await remote.removeEmptyFolder(data);
  }
  await remote.delete(aliasKey);
  removed.push(remote.displayPath(aliasKey));
  return removed;
}

/** Other aliases of the folder that name the same directory (never deleted from under them). */
async function othersNaming(remote: Remote, aliasKey: string, dirKey: string): Promise<string[]> {
  const folder = parentKey(aliasKey);
  const out: string[] = [];
  for (const e of await remote.list(folder)) {
    const key = joinKey(folder, e.name);
    if (e.kind !== 'file' || !isAliasName(e.name) || key === aliasKey) continue;
    const other = await resolveAlias(remote, key).catch(() => undefined);
    if (other?.dirKey === dirKey) out.push(key);
  }
  return out;
}

/** Directories under `<folder>/data/` that no alias of the folder names (a run that died before its alias). */
export async function unnamedDirectories(
  remote: Remote,
  folderKey: string,
): Promise<{ orphans: string[]; undecided: boolean }> {
  const dataKey = joinKey(folderKey, 'data');
  const dirs = (await remote.list(dataKey)).filter((e) => e.kind === 'folder').map((e) => joinKey(dataKey, e.name));
  if (dirs.length === 0) return { orphans: [], undecided: false };
  const named = new Set<string>();
  let undecided = false;
  for (const e of await remote.list(folderKey)) {
    if (!isAliasName(e.name)) continue;
    if (e.kind !== 'file') {
      undecided = true;
      continue;
    }
    const r = await resolveAlias(remote, joinKey(folderKey, e.name)).catch(() => undefined);
    // An alias that cannot be read might name any of them: none is called unnamed then.
    if (r === undefined) undecided = true;
    else named.add(r.dirKey);
  }
  return { orphans: dirs.filter((d) => !named.has(d)), undecided };
}

/**
 * Blocks a directory's bat names whose objects are not there (one listing per thousand blocks), and the
 * temporary files an interrupted put left in it (a folder remote's `.<tag>.<name>`), as keys.
 */
export async function directoryFindings(
  remote: Remote,
  dirKey: string,
  stored: readonly number[],
): Promise<{ missing: number[]; temporaries: string[] }> {
  const have = new Set<string>();
  const temporaries: string[] = [];
  const blocksKey = joinKey(dirKey, 'blocks');
  for (const e of await remote.list(dirKey))
    if (e.kind === 'file' && isTemporaryName(e.name)) temporaries.push(joinKey(dirKey, e.name));
  for (const group of await remote.list(blocksKey)) {
    if (group.kind !== 'folder') continue;
    for (const e of await remote.list(joinKey(blocksKey, group.name))) {
      if (e.kind !== 'file') continue;
      if (isTemporaryName(e.name)) temporaries.push(joinKey(blocksKey, group.name, e.name));
      else have.add(`${group.name}/${e.name}`);
    }
  }
  return { missing: stored.filter((i) => !have.has(`${Math.floor(i / 1000)}/${i % 1000}`)), temporaries };
}
