import { SluiceError } from '../errors/sluice-error.js';
import { DIGESTS_SUFFIX } from '../formats/vhd/vhd-block-digests.js';
import type { Remote, RemoteUpload } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { vhdKeysOf, vmKeyOf, xvaKeyOf } from './point-file-keys.js';
import { METADATA_MAX_BYTES, type BackupPoint } from './repository-reader.js';
import { baseName, parentKey, pointFileKeys, vmFolderKey } from './repository-keys.js';
import { resolveChain, scanVhdFolder } from './vhd-folder-scan.js';
import { ALIAS_SUFFIX, dataPathForAlias, HEADER_NAME, isAliasName } from '../formats/vhd/vhd-directory.js';
import { writeVhdStreamToDirectory } from '../formats/vhd/vhd-stream-to-directory.js';
import {
  aliasDirectory,
  deleteDirectory,
  directoryExists,
  listObjectsUnder,
  remoteDirectoryStore,
} from './vhd-directory-files.js';

// What copying one point into another repository (a mirror) must write there, in the order that keeps the
// target consistent at every step: a full point's XVA, then its checksum file; an incremental point's chain,
// full VHD first, each VHD followed by its block digests; the metadata always last, since it is what makes the
// files a point. Files are named as on the source, relative to the VM folder, so a chain keeps its links.
//
// A VHD already on the target under the same name and with the same identity (footer uuid) is the same disk
// state (a chain the target merged keeps the newer file's name and uuid: see vhd-merge.ts) and is not copied
// again: a mirror that was stopped goes on where it stopped, and the next run sends only the new deltas.

export type PointCopyFile = PlainCopy | DirectoryCopy | FileToDirectoryCopy;

interface CopyBase {
  /** The key on the source remote. */
  sourceKey: string;
  /** The key on the target remote (same path relative to the VM folder; for a VHD directory, its alias). */
  targetKey: string;
  /** Bytes read from the source. */
  size: number;
}

/**
 * xva and vhd are streamed and checked on the way; a sidecar (an XVA's checksum file, a VHD's block digests)
 * is small and copied whole. `replace`: a VHD's digests may replace a stale file of the same name, since they
 * describe the file that sits (or is about to sit) beside them.
 */
export interface PlainCopy extends CopyBase {
  kind: 'xva' | 'vhd' | 'sidecar';
  replace?: boolean;
}

/** A VHD directory (XO's form) copied object by object, its header last, then its alias. */
export interface DirectoryCopy extends CopyBase {
  kind: 'directory';
  sourceDirKey: string;
  dirKey: string;
  /** Objects, relative to the directory, with their sizes. */
  objects: Array<{ name: string; size: number }>;
}

/**
 * A VHD file stored on a target that takes only VHD directories (an object store, an encrypted remote): read
 * front to back into a directory named by the alias `<ts>.alias.vhd`, whose parent is the previous alias.
 */
export interface FileToDirectoryCopy extends CopyBase {
  kind: 'vhd-to-directory';
  dirKey: string;
  /** The alias's text: the directory relative to the alias's folder (XO's `data/<ts>.vhd`). */
  aliasText: string;
  parentName?: string;
}

export type PointCopyPlan =
  | { state: 'present' }
  | {
      state: 'to-copy';
      files: PointCopyFile[];
      reused: string[];
      metadataKey: string;
      /** The metadata's `vhds` names that change on the target (a VHD file stored there as a directory). */
      renamedVhds: Map<string, string>;
    };

/** What of `point` the target lacks; a file under the same name that is another one is a refusal. */
export async function planPointCopy(point: BackupPoint, target: Remote): Promise<PointCopyPlan> {
  const planner = new CopyPlanner(point, target);
  const metadataKey = planner.moved(point.metadataKey);
  if (await target.stat(metadataKey)) return { state: 'present' };
  if (point.mode === 'full') {
    await planner.required(xvaKeyOf(point), 'xva');
    // XO writes no checksum file on an encrypted remote (each file carries its own authentication tag).
    if (!target.encrypted) await planner.sidecar(pointFileKeys(planner.sourceVm, point.id).xvaChecksum, false);
  } else {
    for (const newest of vhdKeysOf(point).values()) await planner.chain(newest);
  }
  const { files, reused, renamedVhds } = planner;
  return { state: 'to-copy', files, reused, metadataKey, renamedVhds };
}

/** The plan being made: what to copy, what the target already holds, and the metadata's renamed disks. */
class CopyPlanner {
  readonly files: PointCopyFile[] = [];
  readonly reused: string[] = [];
  readonly renamedVhds = new Map<string, string>();
  readonly sourceVm: string;
  private readonly targetVm: string;
  /** A remote that cannot rename or update in place takes incremental disks only as VHD directories. */
  private readonly needsDirectories: boolean;

  constructor(
    private readonly point: BackupPoint,
    private readonly target: Remote,
  ) {
    this.sourceVm = vmKeyOf(point);
    this.targetVm = vmFolderKey(point.vmUuid);
    this.needsDirectories = !target.capabilities.rename || !target.capabilities.inPlaceUpdate;
  }

  moved(key: string): string {
    return joinKey(this.targetVm, key.slice(this.sourceVm.length + 1));
  }

  private async sourceFile(key: string): Promise<{ size: number } | undefined> {
    const stat = await this.point.remote.stat(key);
    return stat?.kind === 'file' ? stat : undefined;
  }

  async required(key: string, kind: 'xva' | 'vhd'): Promise<void> {
    const stat = await this.sourceFile(key);
    if (!stat) throw damagedSource(this.point, `${this.point.remote.displayPath(key)} is missing`, key);
    const targetKey = this.moved(key);
    if (await this.target.stat(targetKey)) throw occupied(this.point, this.target, targetKey);
    this.files.push({ sourceKey: key, targetKey, size: stat.size, kind });
  }

  /** A small file beside another; with `replace`, one already there is fine (or overwritten when copied). */
  async sidecar(key: string, replace: boolean): Promise<void> {
    const stat = await this.sourceFile(key);
    if (!stat) return;
    const targetKey = this.moved(key);
    if (await this.target.stat(targetKey)) {
      if (!replace) throw occupied(this.point, this.target, targetKey);
      return;
    }
    this.files.push({ sourceKey: key, targetKey, size: stat.size, kind: 'sidecar', replace });
  }

  /** One disk's chain, full VHD first: each file the target lacks, in the form the target takes. */
  async chain(newest: string): Promise<void> {
    const { point, target } = this;
    const folder = parentKey(newest);
    const sourceScan = await scanVhdFolder(point.remote, folder);
    const chain = resolveChain(sourceScan, baseName(newest));
    if ('problem' in chain) throw damagedSource(point, chain.problem.message, chain.problem.file);
    const targetScan = await scanVhdFolder(target, this.moved(folder));
    let parentName: string | undefined;
    for (const key of chain.keys) {
      const name = baseName(key);
      const asDirectory = !isAliasName(name) && this.needsDirectories;
      const targetName = asDirectory ? `${name.replace(/\.vhd$/, '')}${ALIAS_SUFFIX}` : name;
      const targetKey = joinKey(this.moved(folder), targetName);
      if (key === newest && targetName !== name)
        this.renamedVhds.set(newest.slice(this.sourceVm.length + 1), targetKey.slice(this.targetVm.length + 1));
      const there = targetScan.vhds.get(targetName);
      const source = sourceScan.vhds.get(name);
      const previous = parentName;
      parentName = targetName;
      if (there) {
        if (there.uuid !== source?.uuid || there.unreadable) throw notTheSame(point, target, key, there, source?.uuid);
        this.reused.push(target.displayPath(there.key));
        // A copy stopped between a VHD and its digests: the digests come now.
        if (!isAliasName(targetName)) await this.sidecar(`${key}${DIGESTS_SUFFIX}`, true);
      } else if (isAliasName(name)) {
        this.files.push(await directoryCopy(point, target, key, targetKey));
      } else if (asDirectory) {
        const stat = await this.sourceFile(key);
        if (!stat) throw damagedSource(point, `${point.remote.displayPath(key)} is missing`, key);
        const aliasText = dataPathForAlias(targetName);
        this.files.push({
          kind: 'vhd-to-directory',
          sourceKey: key,
          targetKey,
          size: stat.size,
          dirKey: joinKey(this.moved(folder), aliasText),
          aliasText,
          ...(previous && source?.differencing ? { parentName: previous } : {}),
        });
      } else {
        await this.required(key, 'vhd');
        // Written over any file of that name: digests without their VHD are an orphan a merge left.
        const digests = await this.sourceFile(`${key}${DIGESTS_SUFFIX}`);
        if (digests)
          this.files.push({
            sourceKey: `${key}${DIGESTS_SUFFIX}`,
            targetKey: this.moved(`${key}${DIGESTS_SUFFIX}`),
            size: digests.size,
            kind: 'sidecar',
            replace: true,
          });
      }
    }
  }
}

function notTheSame(
  point: BackupPoint,
  target: Remote,
  key: string,
  there: { key: string; uuid?: string | undefined; unreadable?: string | undefined },
  uuid: string | undefined,
): SluiceError {
  return new SluiceError(
    'CONFLICT',
    `${target.displayPath(there.key)} is not the disk file ${point.remote.displayPath(key)} of ${pointName(point)}: ${there.unreadable ?? `it is VHD ${there.uuid ?? '(unknown)'}, the source's is VHD ${uuid ?? '(unknown)'}`}.`,
    {
      hint: 'The target holds another chain under the same name (another tool wrote there, or the file is damaged). Run `npx sluice check` on the target; a copy never replaces a disk file.',
      context: { ...pointContext(point), file: target.displayPath(there.key) },
    },
  );
}

/** A source VHD directory to copy: its objects, listed now; the target's directory where the source's is. */
async function directoryCopy(
  point: BackupPoint,
  target: Remote,
  aliasKey: string,
  targetKey: string,
): Promise<DirectoryCopy> {
  const sourceDirKey = await aliasDirectory(point.remote, aliasKey);
  const dirKey = joinKey(parentKey(targetKey), sourceDirKey.slice(parentKey(aliasKey).length + 1));
  if (await directoryExists(target, dirKey)) throw occupied(point, target, dirKey);
  const objects: DirectoryCopy['objects'] = [];
  for (const key of await listObjectsUnder(point.remote, sourceDirKey)) {
    const stat = await point.remote.stat(key);
    objects.push({ name: key.slice(sourceDirKey.length + 1), size: stat?.size ?? 0 });
  }
  return {
    kind: 'directory',
    sourceKey: aliasKey,
    targetKey,
    sourceDirKey,
    dirKey,
    objects,
    size: objects.reduce((n, o) => n + o.size, 0),
  };
}

function damagedSource(point: BackupPoint, what: string, file: string): SluiceError {
  return new SluiceError('REMOTE_ERROR', `${pointName(point)} cannot be copied: ${what}.`, {
    hint: `Run \`npx sluice check --remote ${point.remote.label}\` on the source to see what is wrong with this point.`,
    context: { ...pointContext(point), file },
  });
}

/** A file of the point on the target without the point's metadata is not ours to replace. */
function occupied(point: BackupPoint, target: Remote, key: string): SluiceError {
  return new SluiceError(
    'CONFLICT',
    `${target.displayPath(key)} is already on the target, without the metadata of ${pointName(point)}.`,
    {
      hint: 'Run `npx sluice check` on the target: if it is an orphan a stopped copy left, `--repair` removes it; then copy again.',
      context: { ...pointContext(point), file: target.displayPath(key) },
    },
  );
}

/** A new file of the copied point on the target, appearing only once complete (put-if-absent). */
export function beginCopiedFile(target: Remote, f: PointCopyFile): Promise<RemoteUpload> {
  return target.beginNew(f.targetKey);
}

/**
 * The point's metadata as the source has it (byte for byte, unless a VHD file went in as a directory: then its
 * `vhds` name the aliases, as XO's would): written last, it commits the copy.
 */
export async function commitCopiedPoint(
  point: BackupPoint,
  target: Remote,
  plan: { metadataKey: string; renamedVhds: Map<string, string> },
): Promise<void> {
  let bytes: Buffer | string = await point.remote.read(point.metadataKey, { maxBytes: METADATA_MAX_BYTES });
  if (plan.renamedVhds.size > 0) {
    const meta = JSON.parse(bytes.toString('utf8')) as { vhds?: Record<string, string> };
    for (const [disk, rel] of Object.entries(meta.vhds ?? {})) {
      const renamed = plan.renamedVhds.get(rel.replace(/^\.\//, ''));
      if (renamed) meta.vhds![disk] = renamed;
    }
    bytes = JSON.stringify(meta);
  }
  await target.writeNew(plan.metadataKey, bytes);
  await target.syncFolder(parentKey(plan.metadataKey));
}

/** A source directory's objects into the target's, the header last (a directory without one never opens). */
export async function copyDirectoryObjects(
  point: BackupPoint,
  target: Remote,
  f: DirectoryCopy,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const ordered = [...f.objects].sort((a, b) => Number(a.name === HEADER_NAME) - Number(b.name === HEADER_NAME));
  try {
    for (const o of ordered) {
      signal?.throwIfAborted();
      const bytes = await point.remote.read(joinKey(f.sourceDirKey, o.name), { maxBytes: 64 * 1024 * 1024 });
      await target.writeNew(joinKey(f.dirKey, o.name), bytes);
      onBytes(bytes.length);
    }
    await target.writeNew(f.targetKey, await point.remote.read(f.sourceKey, { maxBytes: 1024 }));
  } catch (err) {
    await deleteDirectory(target, f.dirKey).catch(() => 0);
    throw err;
  }
}

/** A VHD file read front to back into a directory on the target, then the alias that names it. */
export async function copyFileAsDirectory(
  point: BackupPoint,
  target: Remote,
  f: FileToDirectoryCopy,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const stream = (await point.remote.createReadStream(f.sourceKey)) as AsyncIterable<Buffer> & {
      destroy?: () => void;
    };
    const counted = (async function* () {
      for await (const chunk of stream) {
        signal?.throwIfAborted();
        onBytes(chunk.length);
        yield chunk;
      }
    })();
    await writeVhdStreamToDirectory(counted, remoteDirectoryStore(target, f.dirKey), {
      source: point.remote.displayPath(f.sourceKey),
      ...(f.parentName ? { parentName: f.parentName } : {}),
    });
    await target.writeNew(f.targetKey, f.aliasText);
  } catch (err) {
    await deleteDirectory(target, f.dirKey).catch(() => 0);
    throw err;
  }
}

function pointName(point: BackupPoint): string {
  return `the backup ${point.vmName} ${point.id}`;
}

function pointContext(point: BackupPoint): Record<string, string> {
  return { vm: point.vmName, point: point.id, remote: point.remote.label };
}
