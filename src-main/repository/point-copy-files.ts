import { SluiceError } from '../errors/sluice-error.js';
import { DIGESTS_SUFFIX } from '../formats/vhd/vhd-block-digests.js';
import type { Remote, RemoteUpload } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { vhdKeysOf, vmKeyOf, xvaKeyOf } from './point-file-keys.js';
import type { BackupPoint } from './repository-reader.js';
import { baseName, parentKey, pointFileKeys, vmFolderKey } from './repository-keys.js';
import { resolveChain, scanVhdFolder } from './vhd-folder-scan.js';

// What copying one point into another repository (a mirror) must write there, in the order that keeps the
// target consistent at every step: a full point's XVA, then its checksum file; an incremental point's chain,
// full VHD first, each VHD followed by its block digests; the metadata always last, since it is what makes the
// files a point. Files are named as on the source, relative to the VM folder, so a chain keeps its links.
//
// A VHD already on the target under the same name and with the same identity (footer uuid) is the same disk
// state (a chain the target merged keeps the newer file's name and uuid: see vhd-merge.ts) and is not copied
// again: a mirror that was stopped goes on where it stopped, and the next run sends only the new deltas.

export interface PointCopyFile {
  /** The key on the source remote. */
  sourceKey: string;
  /** The key on the target remote (same path relative to the VM folder). */
  targetKey: string;
  size: number;
  /**
   * xva and vhd are streamed and checked on the way; a sidecar (an XVA's checksum file, a VHD's block digests)
   * is small and copied whole. `replace`: a VHD's digests may replace a stale file of the same name, since
   * they describe the file that sits (or is about to sit) beside them.
   */
  kind: 'xva' | 'vhd' | 'sidecar';
  replace?: boolean;
}

export type PointCopyPlan =
  { state: 'present' } | { state: 'to-copy'; files: PointCopyFile[]; reused: string[]; metadataKey: string };

/** What of `point` the target lacks; a file under the same name that is another one is a refusal. */
export async function planPointCopy(point: BackupPoint, target: Remote): Promise<PointCopyPlan> {
  const sourceVm = vmKeyOf(point);
  const targetVm = vmFolderKey(point.vmUuid);
  const moved = (key: string): string => joinKey(targetVm, key.slice(sourceVm.length + 1));
  const metadataKey = moved(point.metadataKey);
  if (await target.stat(metadataKey)) return { state: 'present' };
  const files: PointCopyFile[] = [];
  const reused: string[] = [];
  const sourceFile = async (key: string): Promise<{ size: number } | undefined> => {
    const stat = await point.remote.stat(key);
    return stat?.kind === 'file' ? stat : undefined;
  };
  const required = async (key: string, kind: 'xva' | 'vhd'): Promise<void> => {
    const stat = await sourceFile(key);
    if (!stat) throw damagedSource(point, `${point.remote.displayPath(key)} is missing`, key);
    const targetKey = moved(key);
    if (await target.stat(targetKey)) throw occupied(point, target, targetKey);
    files.push({ sourceKey: key, targetKey, size: stat.size, kind });
  };
  const sidecar = async (key: string, replace: boolean): Promise<void> => {
    const stat = await sourceFile(key);
    if (!stat) return;
    const targetKey = moved(key);
    if (await target.stat(targetKey)) {
      if (!replace) throw occupied(point, target, targetKey);
      return;
    }
    files.push({ sourceKey: key, targetKey, size: stat.size, kind: 'sidecar', replace });
  };

  if (point.mode === 'full') {
    await required(xvaKeyOf(point), 'xva');
    // XO writes no checksum file on an encrypted remote (each file carries its own authentication tag).
    if (!target.encrypted) await sidecar(pointFileKeys(sourceVm, point.id).xvaChecksum, false);
    return { state: 'to-copy', files, reused, metadataKey };
  }
  for (const newest of vhdKeysOf(point).values()) {
    const folder = parentKey(newest);
    const sourceScan = await scanVhdFolder(point.remote, folder);
    const chain = resolveChain(sourceScan, baseName(newest));
    if ('problem' in chain) throw damagedSource(point, chain.problem.message, chain.problem.file);
    const targetScan = await scanVhdFolder(target, moved(folder));
    for (const key of chain.keys) {
      const name = baseName(key);
      const there = targetScan.vhds.get(name);
      const uuid = sourceScan.vhds.get(name)?.uuid;
      if (!there) {
        await required(key, 'vhd');
        // Written over any file of that name: digests without their VHD are an orphan a merge left.
        const digests = await sourceFile(`${key}${DIGESTS_SUFFIX}`);
        if (digests)
          files.push({
            sourceKey: `${key}${DIGESTS_SUFFIX}`,
            targetKey: moved(`${key}${DIGESTS_SUFFIX}`),
            size: digests.size,
            kind: 'sidecar',
            replace: true,
          });
        continue;
      }
      if (there.uuid !== uuid || there.unreadable)
        throw new SluiceError(
          'CONFLICT',
          `${target.displayPath(there.key)} is not the disk file ${point.remote.displayPath(key)} of ${pointName(point)}: ${there.unreadable ?? `it is VHD ${there.uuid ?? '(unknown)'}, the source's is VHD ${uuid ?? '(unknown)'}`}.`,
          {
            hint: 'The target holds another chain under the same name (another tool wrote there, or the file is damaged). Run `npx sluice check` on the target; a copy never replaces a disk file.',
            context: { ...pointContext(point), file: target.displayPath(there.key) },
          },
        );
      reused.push(target.displayPath(there.key));
      // A copy stopped between a VHD and its digests: the digests come now.
      await sidecar(`${key}${DIGESTS_SUFFIX}`, true);
    }
  }
  return { state: 'to-copy', files, reused, metadataKey };
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

/** The point's metadata, byte for byte as the source has it: written last, it commits the copy. */
export async function commitCopiedPoint(point: BackupPoint, target: Remote, metadataKey: string): Promise<void> {
  const bytes = await point.remote.read(point.metadataKey, { maxBytes: 8 * 1024 * 1024 });
  await target.writeNew(metadataKey, bytes);
  await target.syncFolder(parentKey(metadataKey));
}

function pointName(point: BackupPoint): string {
  return `the backup ${point.vmName} ${point.id}`;
}

function pointContext(point: BackupPoint): Record<string, string> {
  return { vm: point.vmName, point: point.id, remote: point.remote.label };
}
