import { SluiceError } from '../errors/sluice-error.js';
import { collapseUnreferencedVhds, type CollapseOptions, type CollapseReport } from './chain-collapser.js';
import { referencedVhds, vhdKeysOf, vmKeyOf, xvaKeyOf } from './point-file-keys.js';
import { baseName, parentKey, pointFileKeys, remoteOf, type RepositoryRoot } from './repository-keys.js';
import { heldByUnreadable, listVmPoints, type BackupPoint } from './repository-reader.js';
import { childrenOf, damagedWithUnknownParent, scanVhdFolder } from './vhd-folder-scan.js';

// Deletes one backup point, metadata first (it is the commit marker: without it the point no longer exists,
// whatever a crash leaves after). A full point's XVA and checksum then go. A delta point's VHDs are merged
// into the chain so the later points stay restorable (chain-collapser), and only when the merge can be done
// safely: a damaged VHD next to the point keeps the point, untouched, and says why.

export interface DeletedPoint {
  id: string;
  mode: BackupPoint['mode'];
  collapse?: CollapseReport;
}

export async function deleteBackupPoint(
  root: RepositoryRoot,
  point: BackupPoint,
  opts: CollapseOptions = {},
): Promise<DeletedPoint> {
  // The point was listed on its own remote; `root` says which repository the caller means, and must agree.
  const remote = typeof root === 'string' ? point.remote : remoteOf(root);
  const vmKey = vmKeyOf(point);
  const ctx = { vm: point.vmName, remote: point.metadataPath, phase: 'merge' };
  if (point.metadata.mode === 'full') {
    const xva = xvaKeyOf(point);
    for (const key of [point.metadataKey, xva, `${xva}.checksum`, pointFileKeys(vmKey, point.id).xvaChecksum])
      await remote.delete(key);
    await remote.syncFolder(vmKey);
    return { id: point.id, mode: 'full' };
  }

  const own = [...vhdKeysOf(point).values()];
  const dirs = [...new Set(own.map(parentKey))];
  for (const dir of dirs) {
    const scan = await scanVhdFolder(remote, dir);
    for (const key of own) {
      const vhd = scan.vhds.get(baseName(key));
      if (!vhd || parentKey(key) !== dir) continue;
      const damaged = vhd.unreadable
        ? vhd
        : (childrenOf(scan, vhd.name).find((c) => c.unreadable) ?? damagedWithUnknownParent(scan)[0]);
      if (damaged) {
        throw new SluiceError(
          'REMOTE_ERROR',
          `Point ${point.id} of ${point.vmName} was not deleted: ${damaged.path} is damaged (${damaged.unreadable}), and merging it would spread the damage into good data.`,
          {
            hint: 'Run `npx sluice check --remote DIR` to see the damage. The point and its chain are kept as they are.',
            context: ctx,
          },
        );
      }
    }
  }
  await remote.delete(point.metadataKey);
  await remote.syncFolder(vmKey);
  const { points: remaining, unreadable } = await listVmPoints(remote, point.vmUuid);
  const referenced = referencedVhds(remaining);
  const collapse: CollapseReport = { resumed: [], merged: [], removed: [], problems: [] };
  const held = heldByUnreadable(unreadable);
  if (held) {
    // The point's metadata is gone (it no longer restores); its VHDs wait, unmerged, until the admin acts.
    collapse.problems.push(`The VHDs of point ${point.id} were neither merged nor removed, ${held}.`);
    return { id: point.id, mode: 'delta', collapse };
  }
  for (const dir of dirs) {
    const r = await collapseUnreferencedVhds(remote, dir, referenced, opts);
    collapse.resumed.push(...r.resumed);
    collapse.merged.push(...r.merged);
    collapse.removed.push(...r.removed);
    collapse.problems.push(...r.problems);
  }
  return { id: point.id, mode: 'delta', collapse };
}
