import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SluiceError } from '../errors/sluice-error.js';
import { collapseUnreferencedVhds, referencedVhds, type CollapseOptions } from './chain-collapser.js';
import { cleanFullBackupFolder } from './full-point-cleaner.js';
import { parentOfMergeState } from './merge-state.js';
import { BACKUPS_DIR, isTemporaryName, vmFolder, vmLockFolder } from './repository-layout.js';
import { heldByUnreadable, isVmFolderName, listVmPoints } from './repository-reader.js';
import { childrenOf, filesInMerge, resolveChain, scanVhdFolder, type VhdFolderScan } from './vhd-folder-scan.js';
import { lockVmFolder } from './vm-folder-lock.js';

// `sluice check`: what is wrong in a repository, and with --repair, the fixes that cannot lose anything:
//   temporary-file     a write that never finished (removed)
//   unfinished-merge   a merge a crash interrupted (resumed: it is idempotent and checks its files first)
//   pending-merge      a VHD whose point was deleted but that later points still build on (merged)
//   orphan-vhd         a VHD no point uses and nothing builds on (removed)
//   orphan-xva         an XVA or checksum no metadata names (removed: an unfinished full point)
//   missing-xva        full metadata whose XVA is gone (metadata removed: nothing is left to restore)
// Reported, never "repaired", because only a person can judge them: broken-chain (a point whose VHD chain is
// missing a file, links wrongly or holds a damaged file), damaged-vhd (an unused VHD that cannot be read,
// kept in case it is needed for forensics), unreadable-metadata, folder-in-use.

export type ProblemKind =
  | 'temporary-file'
  | 'unfinished-merge'
  | 'pending-merge'
  | 'orphan-vhd'
  | 'orphan-xva'
  | 'missing-xva'
  | 'broken-chain'
  | 'damaged-vhd'
  | 'unreadable-metadata'
  | 'folder-in-use';

const HELD_BY_UNREADABLE: ReadonlySet<ProblemKind> = new Set([
  'orphan-vhd',
  'orphan-xva',
  'pending-merge',
  'unfinished-merge',
]);
const FIXABLE: ReadonlySet<ProblemKind> = new Set([
  'temporary-file',
  'unfinished-merge',
  'pending-merge',
  'orphan-vhd',
  'orphan-xva',
  'missing-xva',
]);

export interface RepositoryProblem {
  kind: ProblemKind;
  vmUuid: string;
  path: string;
  message: string;
  /** Whether --repair fixes this kind. */
  fixable: boolean;
}

export interface CheckReport {
  /** Problems found (before any repair). */
  found: RepositoryProblem[];
  /** Problems left after the repair (or all of them without --repair). */
  remaining: RepositoryProblem[];
  repaired: boolean;
  vmFolders: number;
  points: number;
  vhds: number;
}

export interface CheckOptions extends Pick<CollapseOptions, 'onMergeProgress' | 'signal'> {
  repair?: boolean;
  log?: (message: string) => void;
}

export async function checkRepository(root: string, opts: CheckOptions = {}): Promise<CheckReport> {
  await fs.stat(root).catch(() => {
    throw new SluiceError('NOT_FOUND', `The repository ${root} does not exist.`, {
      hint: 'Check the path, and that the share is mounted.',
      context: { remote: root },
    });
  });
  const vms = await vmFolders(root);
  const first = await inspectAll(root, vms);
  if (!opts.repair || first.problems.every((p) => !p.fixable)) {
    return {
      found: first.problems,
      remaining: first.problems,
      repaired: false,
      vmFolders: vms.length,
      points: first.points,
      vhds: first.vhds,
    };
  }
  const inUse: RepositoryProblem[] = [];
  for (const vmUuid of vms) {
    if (!first.problems.some((p) => p.vmUuid === vmUuid && p.fixable)) continue;
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockVmFolder(vmLockFolder(root, vmUuid), 'Sluice repository repair');
    } catch (err) {
      inUse.push({
        kind: 'folder-in-use',
        vmUuid,
        path: vmLockFolder(root, vmUuid),
        message: (err as Error).message,
        fixable: false,
      });
      continue;
    }
    try {
      await repairVm(root, vmUuid, opts);
    } finally {
      await release();
    }
  }
  const after = await inspectAll(root, vms);
  return {
    found: first.problems,
    remaining: [...inUse, ...after.problems],
    repaired: true,
    vmFolders: vms.length,
    points: first.points,
    vhds: first.vhds,
  };
}

async function vmFolders(root: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, BACKUPS_DIR), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && isVmFolderName(e.name))
    .map((e) => e.name)
    .sort();
}

async function inspectAll(
  root: string,
  vms: string[],
): Promise<{ problems: RepositoryProblem[]; points: number; vhds: number }> {
  const out = { problems: [] as RepositoryProblem[], points: 0, vhds: 0 };
  for (const vmUuid of vms) {
    const r = await inspectVm(root, vmUuid);
    out.problems.push(...r.problems);
    out.points += r.points;
    out.vhds += r.vhds;
  }
  return out;
}

async function inspectVm(
  root: string,
  vmUuid: string,
): Promise<{ problems: RepositoryProblem[]; points: number; vhds: number }> {
  const vmDir = vmFolder(root, vmUuid);
  const problems: RepositoryProblem[] = [];
  const { points, unreadable } = await listVmPoints(root, vmUuid);
  // While metadata is unreadable, "unreferenced" cannot be proven: such files are reported, never repaired.
  const held = heldByUnreadable(unreadable);
  const add = (kind: ProblemKind, file: string, message: string) => {
    const hold = held !== undefined && HELD_BY_UNREADABLE.has(kind);
    problems.push({
      kind,
      vmUuid,
      path: file,
      message: hold ? `${message}; ${held}` : message,
      fixable: FIXABLE.has(kind) && !hold,
    });
  };
  for (const u of unreadable) add('unreadable-metadata', u.path, `cannot read the metadata: ${u.reason}`);

  const names = await fs.readdir(vmDir);
  for (const n of names)
    if (isTemporaryName(n))
      add('temporary-file', path.join(vmDir, n), 'a temporary file left by a write that did not finish');
  const referencedXva = new Set<string>();
  for (const p of points) {
    if (p.metadata.mode !== 'full') continue;
    const xva = path.basename(p.metadata.xva);
    if (!names.includes(xva))
      add('missing-xva', p.metadataPath, `point ${p.id} names ${xva}, which is missing: it cannot be restored`);
    referencedXva.add(xva).add(`${xva}.checksum`);
  }
  for (const n of names) {
    if ((n.endsWith('.xva') || n.endsWith('.xva.checksum')) && !isTemporaryName(n) && !referencedXva.has(n)) {
      add('orphan-xva', path.join(vmDir, n), 'no backup point uses this file (a full backup that did not finish)');
    }
  }

  const referenced = referencedVhds(points);
  const scans = new Map<string, VhdFolderScan>();
  for (const dir of await vdiFolders(vmDir)) scans.set(dir, await scanVhdFolder(dir));
  let vhds = 0;
  for (const scan of scans.values()) {
    vhds += scan.vhds.size;
    for (const t of scan.temporaries)
      add('temporary-file', path.join(scan.dir, t), 'a temporary file left by a write that did not finish');
    for (const s of scan.mergeStates)
      add(
        'unfinished-merge',
        path.join(scan.dir, s),
        `a merge into ${parentOfMergeState(s)} did not finish (the chain is intact; repair resumes it)`,
      );
    const busy = filesInMerge(scan);
    for (const v of scan.vhds.values()) {
      if (referenced.has(v.path) || busy.has(v.name)) continue;
      if (v.unreadable) add('damaged-vhd', v.path, `no point uses this VHD and it is damaged: ${v.unreadable}`);
      else if (childrenOf(scan, v.name).length > 0)
        add(
          'pending-merge',
          v.path,
          'its point was deleted but later points build on it: it must be merged into the next VHD',
        );
      else add('orphan-vhd', v.path, 'no backup point uses this VHD and nothing builds on it');
    }
  }
  for (const p of points) {
    if (p.metadata.mode !== 'delta') continue;
    for (const rel of Object.values(p.metadata.vhds)) {
      const file = path.resolve(vmDir, rel);
      const scan = scans.get(path.dirname(file)) ?? (await scanVhdFolder(path.dirname(file)));
      // A merge in progress rewrites files of this chain; it is reported as such, and reads fine once finished.
      if (scan.mergeStates.length > 0) continue;
      const chain = resolveChain(scan, path.basename(file));
      if ('problem' in chain)
        add(
          'broken-chain',
          chain.problem.file,
          `point ${p.id} of ${p.vmName} cannot be restored: ${chain.problem.message}`,
        );
    }
  }
  return { problems, points: points.length, vhds };
}

async function vdiFolders(vmDir: string): Promise<string[]> {
  const out: string[] = [];
  const jobs = await fs.readdir(path.join(vmDir, 'vdis')).catch(() => [] as string[]);
  for (const job of jobs) {
    for (const vdi of await fs.readdir(path.join(vmDir, 'vdis', job)).catch(() => [] as string[]))
      out.push(path.join(vmDir, 'vdis', job, vdi));
  }
  return out.sort();
}

async function repairVm(root: string, vmUuid: string, opts: CheckOptions): Promise<void> {
  const vmDir = vmFolder(root, vmUuid);
  const cleaned = await cleanFullBackupFolder(vmDir);
  for (const f of [...cleaned.removedTemporary, ...cleaned.removedOrphans])
    opts.log?.(`Removed ${path.join(vmDir, f)}.`);
  for (const f of cleaned.brokenMetadata) opts.log?.(`Removed metadata ${path.join(vmDir, f)}: its XVA is missing.`);
  const { points, unreadable } = await listVmPoints(root, vmUuid);
  const held = heldByUnreadable(unreadable);
  const referenced = referencedVhds(points);
  for (const dir of await vdiFolders(vmDir)) {
    const scan = await scanVhdFolder(dir);
    for (const t of scan.temporaries) {
      await fs.rm(path.join(dir, t), { force: true });
      opts.log?.(`Removed ${path.join(dir, t)}.`);
    }
    if (held) {
      opts.log?.(`No VHD in ${dir} was merged or removed, ${held}.`);
      continue;
    }
    try {
      const r = await collapseUnreferencedVhds(dir, referenced, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onMergeProgress ? { onMergeProgress: opts.onMergeProgress } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      for (const p of r.problems) opts.log?.(p);
    } catch (err) {
      // One folder's failure (a full remote, a merge that refuses to resume) must not stop the others; the
      // second inspection reports what is left.
      if (err instanceof SluiceError && err.code === 'CANCELLED') throw err;
      opts.log?.(`Could not repair ${dir}: ${(err as Error).message}`);
    }
  }
}
