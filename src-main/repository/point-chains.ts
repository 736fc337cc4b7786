import path from 'node:path';
import type { Remote } from '../remotes/remote.js';
import { vhdKeysOf } from './point-file-keys.js';
import { baseName, parentKey } from './repository-keys.js';
import type { BackupPoint } from './repository-reader.js';
import { resolveChain, scanVhdFolder, type VhdFolderScan } from './vhd-folder-scan.js';

/**
 * Where a point stands in its incremental chain, as the Backups view shows it. Read from the VHDs themselves
 * (footers and headers, a few KiB per file), not from the metadata's isVhdDifferencing: a merge turns the
 * oldest kept point into the chain's full VHD while its metadata still says "differencing".
 */
export type PointChain =
  | { kind: 'standalone' }
  | { kind: 'base'; length: number }
  | {
      kind: 'delta';
      position: number;
      length: number;
      basePointId: string;
      baseTimestamp: string | null;
      uniform: boolean;
    }
  | { kind: 'broken'; reason: string };

export function pointKey(p: { vmUuid: string; id: string }): string {
  return `${p.vmUuid}/${p.id}`;
}

/** A VHD's point id: its name without `.vhd` or, for a VHD directory's alias, `.alias.vhd`. */
function pointIdOfVhd(name: string): string {
  return name.replace(/(?:\.alias)?\.vhd$/, '');
}

interface DiskLink {
  dir: string;
  base: string;
  position: number;
}

/** The chain of every point given (a whole repository's list), keyed by pointKey. */
export async function describePointChains(points: BackupPoint[]): Promise<Map<string, PointChain>> {
  const scans = new Map<string, Promise<VhdFolderScan>>();
  const scanOf = (remote: Remote, dir: string) => {
    let s = scans.get(`${remote.label}\0${dir}`);
    if (!s) scans.set(`${remote.label}\0${dir}`, (s = scanVhdFolder(remote, dir)));
    return s;
  };
  const links = new Map<string, DiskLink[] | { broken: string }>();
  for (const p of points) {
    if (p.metadata.mode !== 'delta') continue;
    const disks: DiskLink[] = [];
    let broken: string | undefined;
    for (const file of vhdKeysOf(p).values()) {
      const dir = parentKey(file);
      const empty = {
        remote: p.remote,
        folderKey: dir,
        dir,
        vhds: new Map(),
        mergeStates: [],
        temporaries: [],
        checksumFiles: [],
      };
      const chain = resolveChain(await scanOf(p.remote, dir).catch(() => empty), baseName(file));
      if ('problem' in chain) {
        broken ??= chain.problem.message;
        continue;
      }
      disks.push({ dir, base: pointIdOfVhd(path.basename(chain.paths[0]!)), position: chain.paths.length });
    }
    links.set(pointKey(p), broken ? { broken } : disks);
  }
  // A chain's length: the furthest any point of it has come (per disk folder and full VHD).
  const lengths = new Map<string, number>();
  for (const l of links.values()) {
    if ('broken' in l) continue;
    for (const d of l)
      lengths.set(`${d.dir}\0${d.base}`, Math.max(lengths.get(`${d.dir}\0${d.base}`) ?? 0, d.position));
  }
  const timestamps = new Map(points.map((p) => [pointKey(p), p.timestamp.toISOString()]));
  const out = new Map<string, PointChain>();
  for (const p of points) {
    const l = links.get(pointKey(p));
    if (!l || (!('broken' in l) && l.length === 0)) {
      out.set(pointKey(p), { kind: 'standalone' });
      continue;
    }
    if ('broken' in l) {
      out.set(pointKey(p), { kind: 'broken', reason: l.broken });
      continue;
    }
    // The disk furthest from its full VHD says how much this point depends on: a restore needs all of it.
    const deepest = l.reduce((a, b) => (b.position > a.position ? b : a));
    const length = lengths.get(`${deepest.dir}\0${deepest.base}`) ?? deepest.position;
    const uniform = l.every((d) => d.base === deepest.base && d.position === deepest.position);
    if (deepest.position === 1) out.set(pointKey(p), { kind: 'base', length });
    else {
      out.set(pointKey(p), {
        kind: 'delta',
        position: deepest.position,
        length,
        basePointId: deepest.base,
        baseTimestamp: timestamps.get(pointKey({ vmUuid: p.vmUuid, id: deepest.base })) ?? null,
        uniform,
      });
    }
  }
  return out;
}
