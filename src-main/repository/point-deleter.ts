import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { describeFsError } from '../errors/fs-errors.js';
import { syncDir } from '../core/atomic-file.js';
import {
  collapseUnreferencedVhds,
  referencedVhds,
  type CollapseOptions,
  type CollapseReport,
} from './chain-collapser.js';
import { pointFiles } from './repository-layout.js';
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
  root: string,
  point: BackupPoint,
  opts: CollapseOptions = {},
): Promise<DeletedPoint> {
  const vmDir = path.dirname(point.metadataPath);
  const ctx = { vm: point.vmName, remote: point.metadataPath, phase: 'merge' };
  if (point.metadata.mode === 'full') {
    const files = pointFiles(vmDir, point.id);
    const xva = path.join(vmDir, path.basename(point.metadata.xva));
    for (const f of [point.metadataPath, xva, `${xva}.checksum`, files.xvaChecksum]) {
      await fs.rm(f, { force: true }).catch((err) => {
        throw describeFsError(err, f, 'delete');
      });
    }
    await syncDir(vmDir);
    return { id: point.id, mode: 'full' };
  }

  const dirs = [...new Set(Object.values(point.metadata.vhds).map((rel) => path.dirname(path.resolve(vmDir, rel))))];
  for (const dir of dirs) {
    const scan = await scanVhdFolder(dir);
    for (const rel of Object.values(point.metadata.vhds)) {
      const own = scan.vhds.get(path.basename(rel));
      if (!own || path.dirname(path.resolve(vmDir, rel)) !== dir) continue;
      const damaged = own.unreadable
        ? own
        : (childrenOf(scan, own.name).find((c) => c.unreadable) ?? damagedWithUnknownParent(scan)[0]);
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
  await fs.rm(point.metadataPath, { force: true }).catch((err) => {
    throw describeFsError(err, point.metadataPath, 'delete');
  });
  await syncDir(vmDir);
  const { points: remaining, unreadable } = await listVmPoints(root, point.vmUuid);
  const referenced = referencedVhds(remaining);
  const collapse: CollapseReport = { resumed: [], merged: [], removed: [], problems: [] };
  const held = heldByUnreadable(unreadable);
  if (held) {
    // The point's metadata is gone (it no longer restores); its VHDs wait, unmerged, until the admin acts.
    collapse.problems.push(`The VHDs of point ${point.id} were neither merged nor removed, ${held}.`);
    return { id: point.id, mode: 'delta', collapse };
  }
  for (const dir of dirs) {
    const r = await collapseUnreferencedVhds(dir, referenced, opts);
    collapse.resumed.push(...r.resumed);
    collapse.merged.push(...r.merged);
    collapse.removed.push(...r.removed);
    collapse.problems.push(...r.problems);
  }
  return { id: point.id, mode: 'delta', collapse };
}
