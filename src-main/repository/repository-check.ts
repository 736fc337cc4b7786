import { SluiceError } from '../errors/sluice-error.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { collapseUnreferencedVhds, type CollapseOptions } from './chain-collapser.js';
import { checksumFileFindings, repairChecksumFiles } from './checksum-file-check.js';
import { cleanFullBackupFolder } from './full-point-cleaner.js';
import { parentOfMergeState } from './merge-state.js';
import { referencedVhds, vdiFolderKeys, xvaKeyOf, vhdKeysOf } from './point-file-keys.js';
import { BACKUPS_DIR, isTemporaryName } from './repository-layout.js';
import { baseName, parentKey, remoteOf, vmFolderKey, vmLockKey, type RepositoryRoot } from './repository-keys.js';
import { heldByUnreadable, isVmFolderName, listVmPoints, type BackupPoint } from './repository-reader.js';
import { childrenOf, filesInMerge, resolveChain, scanVhdFolder, type VhdFolderScan } from './vhd-folder-scan.js';
import { lockVmFolder } from './vm-folder-lock.js';
import { blockObjectName, isAliasName } from '../formats/vhd/vhd-directory.js';
import { VhdDirectoryReader } from '../formats/vhd/vhd-directory-reader.js';
import {
  aliasDirectory,
  deleteDirectory,
  directoryFindings,
  remoteDirectoryStore,
  unnamedDirectories,
} from './vhd-directory-files.js';

// `sluice check`: what is wrong in a repository, and with --repair, the fixes that cannot lose anything:
//   temporary-file     a write that never finished (removed)
//   unfinished-merge   a merge a crash interrupted (resumed: it is idempotent and checks its files first)
//   pending-merge      a VHD whose point was deleted but that later points still build on (merged)
//   orphan-vhd         a VHD no point uses and nothing builds on (removed)
//   orphan-xva         an XVA or checksum no metadata names (removed: an unfinished full point)
//   missing-xva        full metadata whose XVA is gone (metadata removed: nothing is left to restore)
//   orphan-checksum    a VHD's checksum file whose VHD another tool merged away (removed)
//   stale-checksum     a VHD's checksum file from before another tool merged the VHD (retired: checksum-file-check.ts)
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
  | 'orphan-checksum'
  | 'stale-checksum'
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
  'orphan-checksum',
  'stale-checksum',
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

export async function checkRepository(repository: RepositoryRoot, opts: CheckOptions = {}): Promise<CheckReport> {
  const root = remoteOf(repository);
  if (!(await root.stat('').catch(() => undefined))) {
    throw new SluiceError('NOT_FOUND', `The repository ${root.label} does not exist.`, {
      hint: 'Check the path, and that the share is mounted.',
      context: { remote: root.label },
    });
  }
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
      release = await lockVmFolder(root, vmUuid, 'Sluice repository repair');
    } catch (err) {
      inUse.push({
        kind: 'folder-in-use',
        vmUuid,
        path: root.displayPath(vmLockKey(vmUuid)),
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

async function vmFolders(root: Remote): Promise<string[]> {
  const entries = await root.list(BACKUPS_DIR);
  return entries
    .filter((e) => e.kind === 'folder' && isVmFolderName(e.name))
    .map((e) => e.name)
    .sort();
}

async function inspectAll(
  root: Remote,
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

/** Records one problem of the VM folder being inspected. */
type AddProblem = (kind: ProblemKind, file: string, message: string) => void;

async function inspectVm(
  root: Remote,
  vmUuid: string,
): Promise<{ problems: RepositoryProblem[]; points: number; vhds: number }> {
  const vmKey = vmFolderKey(vmUuid);
  const problems: RepositoryProblem[] = [];
  const { points, unreadable } = await listVmPoints(root, vmUuid);
  // While metadata is unreadable, "unreferenced" cannot be proven: such files are reported, never repaired.
  const held = heldByUnreadable(unreadable);
  const add: AddProblem = (kind, file, message) => {
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

  await inspectVmFolderFiles(root, vmKey, points, add);
  const scans = new Map<string, VhdFolderScan>();
  for (const dir of await vdiFolderKeys(root, vmKey)) scans.set(dir, await scanVhdFolder(root, dir));
  for (const scan of scans.values()) await inspectDirectories(root, scan, add);
  const vhds = inspectVhdFolders(root, scans, referencedVhds(points), add);
  for (const scan of scans.values())
    for (const f of await checksumFileFindings(scan)) add(f.kind, root.displayPath(f.key), f.message);
  await inspectChains(root, points, scans, add);
  return { problems, points: points.length, vhds };
}

/** The files of the VM folder itself: links, temporaries, and the XVAs of its full points. */
async function inspectVmFolderFiles(root: Remote, vmKey: string, points: BackupPoint[], add: AddProblem) {
  const shown = (name: string) => root.displayPath(joinKey(vmKey, name));
  const entries = await root.list(vmKey);
  const names = entries.map((e) => e.name);
  for (const e of entries)
    if (e.kind === 'link')
      add('unreadable-metadata', shown(e.name), 'a link: Sluice never follows links inside a repository');
  for (const n of names)
    if (isTemporaryName(n)) add('temporary-file', shown(n), 'a temporary file left by a write that did not finish');
  const referencedXva = new Set<string>();
  for (const p of points) {
    if (p.metadata.mode !== 'full') continue;
    const xva = xvaKeyOf(p);
    if (parentKey(xva) !== vmKey || !names.includes(baseName(xva)))
      add(
        'missing-xva',
        p.metadataPath,
        `point ${p.id} names ${p.metadata.xva}, which is missing: it cannot be restored`,
      );
    referencedXva.add(baseName(xva)).add(`${baseName(xva)}.checksum`);
  }
  for (const n of names) {
    if ((n.endsWith('.xva') || n.endsWith('.xva.checksum')) && !isTemporaryName(n) && !referencedXva.has(n)) {
      add('orphan-xva', shown(n), 'no backup point uses this file (a full backup that did not finish)');
    }
  }
}

/** The disk folders' temporaries, unfinished merges and unused VHDs; returns how many VHDs they hold. */
function inspectVhdFolders(
  root: Remote,
  scans: Map<string, VhdFolderScan>,
  referenced: Set<string>,
  add: AddProblem,
): number {
  let vhds = 0;
  for (const scan of scans.values()) {
    vhds += scan.vhds.size;
    const inScan = (name: string) => root.displayPath(joinKey(scan.folderKey, name));
    for (const t of scan.temporaries)
      add('temporary-file', inScan(t), 'a temporary file left by a write that did not finish');
    for (const s of scan.mergeStates)
      add(
        'unfinished-merge',
        inScan(s),
        `a merge into ${parentOfMergeState(s)} did not finish (the chain is intact; repair resumes it)`,
      );
    const busy = filesInMerge(scan);
    for (const v of scan.vhds.values()) {
      if (referenced.has(v.key) || busy.has(v.name)) continue;
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
  return vhds;
}

/**
 * VHD directories: a block the bat names whose object is gone makes its alias damaged (marked in the scan, so
 * the chains through it are broken and nothing merges or removes it); a directory no alias names is an orphan.
 */
async function inspectDirectories(root: Remote, scan: VhdFolderScan, add: AddProblem): Promise<void> {
  for (const v of scan.vhds.values()) {
    if (!isAliasName(v.name) || v.unreadable) continue;
    const dirKey = await aliasDirectory(root, v.key).catch(() => undefined);
    if (dirKey === undefined) continue;
    const reader = await VhdDirectoryReader.open(remoteDirectoryStore(root, dirKey)).catch(() => undefined);
    if (!reader) continue;
    const { missing, temporaries } = await directoryFindings(root, dirKey, reader.storedBlocks());
    for (const t of temporaries)
      add('temporary-file', root.displayPath(t), 'a temporary file left by a write that did not finish');
    if (missing.length > 0) {
      const first = `${root.displayPath(dirKey)}/${blockObjectName(missing[0]!)}`;
      v.unreadable = `${missing.length} block(s) its block table names are missing (first: ${first})`;
    }
  }
  // A merge in progress leaves the child's old directory unnamed for a moment; finishing it removes that.
  if (scan.mergeStates.length > 0) return;
  const { orphans, undecided } = await unnamedDirectories(root, scan.folderKey);
  for (const d of orphans) {
    const why = 'a VHD directory no alias names (a backup that did not finish, or a merge another tool left)';
    if (undecided) add('damaged-vhd', root.displayPath(d), `${why}; kept, because an alias here cannot be read`);
    else add('orphan-vhd', root.displayPath(d), why);
  }
}

/** Temporary files inside the directories the folder's aliases name. */
async function directoryTemporaries(root: Remote, scan: VhdFolderScan): Promise<string[]> {
  const out: string[] = [];
  for (const v of scan.vhds.values()) {
    if (!isAliasName(v.name)) continue;
    const dirKey = await aliasDirectory(root, v.key).catch(() => undefined);
    if (dirKey !== undefined) out.push(...(await directoryFindings(root, dirKey, [])).temporaries);
  }
  return out;
}

/** Every point's VHD chains, each resolved from its folder's scan. */
async function inspectChains(
  root: Remote,
  points: BackupPoint[],
  scans: Map<string, VhdFolderScan>,
  add: AddProblem,
): Promise<void> {
  for (const p of points) {
    for (const file of vhdKeysOf(p).values()) {
      // A disk folder that cannot be listed (a link out of the repository, say) breaks the point, not the check.
      const scan =
        scans.get(parentKey(file)) ?? (await scanVhdFolder(root, parentKey(file)).catch((err: Error) => err));
      if (scan instanceof Error) {
        add('broken-chain', root.displayPath(file), `point ${p.id} of ${p.vmName} cannot be restored: ${scan.message}`);
        continue;
      }
      // A merge in progress rewrites files of this chain; it is reported as such, and reads fine once finished.
      if (scan.mergeStates.length > 0) continue;
      const chain = resolveChain(scan, baseName(file));
      if ('problem' in chain)
        add(
          'broken-chain',
          chain.problem.file,
          `point ${p.id} of ${p.vmName} cannot be restored: ${chain.problem.message}`,
        );
    }
  }
}

async function repairVm(root: Remote, vmUuid: string, opts: CheckOptions): Promise<void> {
  const vmKey = vmFolderKey(vmUuid);
  const cleaned = await cleanFullBackupFolder(root, vmKey);
  const shown = (name: string) => root.displayPath(joinKey(vmKey, name));
  for (const f of [...cleaned.removedTemporary, ...cleaned.removedOrphans]) opts.log?.(`Removed ${shown(f)}.`);
  for (const f of cleaned.brokenMetadata) opts.log?.(`Removed metadata ${shown(f)}: its XVA is missing.`);
  const { points, unreadable } = await listVmPoints(root, vmUuid);
  const held = heldByUnreadable(unreadable);
  const referenced = referencedVhds(points);
  for (const dir of await vdiFolderKeys(root, vmKey)) {
    const scan = await scanVhdFolder(root, dir);
    for (const t of scan.temporaries) {
      await root.delete(joinKey(dir, t));
      opts.log?.(`Removed ${root.displayPath(joinKey(dir, t))}.`);
    }
    if (held) {
      // A point it cannot read might name any file here, checksum files included: nothing is touched.
      opts.log?.(`No VHD or checksum file in ${scan.dir} was merged, removed or rewritten, ${held}.`);
      continue;
    }
    await collapseFolder(root, dir, referenced, opts);
    for (const key of await directoryTemporaries(root, scan)) {
      await root.delete(key);
      opts.log?.(`Removed ${root.displayPath(key)}.`);
    }
    const { orphans, undecided } = await unnamedDirectories(root, dir);
    for (const d of undecided ? [] : orphans) {
      await deleteDirectory(root, d);
      opts.log?.(`Removed ${root.displayPath(d)}: no alias names this VHD directory.`);
    }
    // After any merge of ours, from a fresh look at the folder: only then is a checksum file's VHD known gone.
    for (const line of await repairChecksumFiles(await scanVhdFolder(root, dir))) opts.log?.(line);
  }
}

async function collapseFolder(root: Remote, dir: string, referenced: Set<string>, opts: CheckOptions): Promise<void> {
  try {
    const r = await collapseUnreferencedVhds(root, dir, referenced, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onMergeProgress ? { onMergeProgress: opts.onMergeProgress } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    for (const p of r.problems) opts.log?.(p);
  } catch (err) {
    // One folder's failure (a full remote, a merge that refuses to resume) must not stop the others; the
    // second inspection reports what is left.
    if (err instanceof SluiceError && err.code === 'CANCELLED') throw err;
    opts.log?.(`Could not repair ${root.displayPath(dir)}: ${(err as Error).message}`);
  }
}
