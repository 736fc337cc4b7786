import { DIGESTS_SUFFIX } from '../formats/vhd/vhd-block-digests.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import {
  childrenOf,
  damagedWithUnknownParent,
  filesInMerge,
  scanVhdFolder,
  type VhdFolderScan,
} from './vhd-folder-scan.js';
import { asChainProblem } from './vhd-chain-problem.js';
import { isAliasName } from '../formats/vhd/vhd-directory.js';
import { parentOfMergeState } from './merge-state.js';
import { deleteAliasAndDirectory } from './vhd-directory-files.js';
import { isDirectoryMerge, mergeVhdDirectoryIntoParent, resumeVhdDirectoryMerge } from './vhd-directory-merge.js';
import { mergeVhdIntoParent, resumeVhdMerge, type VhdMergeOptions, type VhdMergeProgress } from './vhd-merge.js';

// After a delta point's metadata is gone, its VHDs are no longer referenced. Each one a later VHD still builds
// on is merged with that child (the child's blocks into it, then it takes the child's name); one nothing builds
// on is deleted. Unfinished merges (state files) are finished first. Files that cannot be read are never
// merged, in either direction: damage is reported and left for `sluice check` and a person to look at.

export interface CollapseReport {
  resumed: string[];
  merged: Array<{ parent: string; child: string }>;
  removed: string[];
  /** What was left alone and why. */
  problems: string[];
}

export interface CollapseOptions {
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Progress of each merge, with the pair being merged. */
  onMergeProgress?: (p: VhdMergeProgress, pair: { dir: string; parent: string; child: string }) => void;
  /** Test hook, passed to each merge. */
  batchBlocks?: number;
}

/** Merges and removals in one disk folder; `referenced` holds the keys of the VHDs points still use. */
export async function collapseUnreferencedVhds(
  remote: Remote,
  folderKey: string,
  referenced: ReadonlySet<string>,
  opts: CollapseOptions = {},
): Promise<CollapseReport> {
  const report: CollapseReport = { resumed: [], merged: [], removed: [], problems: [] };
  let scan = await scanVhdFolder(remote, folderKey);
  const dir = scan.dir;
  for (const state of scan.mergeStates) {
    opts.log?.(`Resuming the unfinished merge ${remote.displayPath(joinKey(folderKey, state))}.`);
    const resume = isAliasName(parentOfMergeState(state)) ? resumeVhdDirectoryMerge : resumeVhdMerge;
    const r = await resume(remote, folderKey, state, mergeOptions(dir, state, opts)).catch(rethrowAsChainProblem);
    report.resumed.push(r.path.slice(r.path.lastIndexOf('/') + 1));
  }
  // Oldest first (names are time stamps): a root absorbs its child before that child is looked at.
  for (let guard = 0; guard < 10_000; guard++) {
    if (report.resumed.length > 0 || guard > 0) scan = await scanVhdFolder(remote, folderKey);
    const next = nextStep(scan, referenced, report);
    if (!next) break;
    if (next.kind === 'remove') {
      const key = joinKey(folderKey, next.name);
      if (isAliasName(next.name)) await deleteAliasAndDirectory(remote, key);
      else {
        await remote.delete(key);
        await remote.delete(key + DIGESTS_SUFFIX);
      }
      await remote.syncFolder(folderKey);
      opts.log?.(`Removed ${remote.displayPath(key)}: no backup point uses it any more.`);
      report.removed.push(next.name);
    } else {
      opts.log?.(`Merging ${next.child} into ${next.parent} (${dir}).`);
      const merge = isDirectoryMerge(next.parent, next.child) ? mergeVhdDirectoryIntoParent : mergeVhdIntoParent;
      await merge(remote, folderKey, next.parent, next.child, mergeOptions(dir, next, opts)).catch(
        rethrowAsChainProblem,
      );
      report.merged.push({ parent: next.parent, child: next.child });
    }
  }
  return report;
}

function rethrowAsChainProblem(err: unknown): never {
  throw asChainProblem(err);
}

function mergeOptions(
  dir: string,
  pair: { parent: string; child: string } | string,
  opts: CollapseOptions,
): VhdMergeOptions {
  const names = typeof pair === 'string' ? { parent: pair, child: '' } : pair;
  return {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.batchBlocks ? { batchBlocks: opts.batchBlocks } : {}),
    onProgress: (p) => opts.onMergeProgress?.(p, { dir, ...names }),
  };
}

type Step = { kind: 'remove'; name: string } | { kind: 'merge'; parent: string; child: string };

function nextStep(scan: VhdFolderScan, referenced: ReadonlySet<string>, report: CollapseReport): Step | undefined {
  const busy = filesInMerge(scan);
  for (const v of scan.vhds.values()) {
    if (referenced.has(v.key) || busy.has(v.name)) continue;
    const known = (m: string) => report.problems.includes(m);
    if (v.unreadable) {
      const m = `${v.path} is damaged and no point uses it; left for \`sluice check\`: ${v.unreadable}`;
      if (!known(m)) report.problems.push(m);
      continue;
    }
    const children = childrenOf(scan, v.name);
    if (children.length === 0) {
      const unknown = damagedWithUnknownParent(scan);
      if (unknown.length === 0) return { kind: 'remove', name: v.name };
      const m = `${v.path} is not removed: ${unknown.map((u) => u.name).join(', ')} is damaged beyond telling its parent, which may be this file`;
      if (!known(m)) report.problems.push(m);
      continue;
    }
    if (children.length > 1) {
      const m = `${v.path} has ${children.length} child VHDs (${children.map((c) => c.name).join(', ')}); not merged`;
      if (!known(m)) report.problems.push(m);
      continue;
    }
    const child = children[0]!;
    if (isAliasName(v.name) !== isAliasName(child.name)) {
      const m = `${child.path} and ${v.path} are one a VHD file and one a VHD directory; not merged (keep the points, or start a new chain)`;
      if (!known(m)) report.problems.push(m);
      continue;
    }
    if (child.unreadable) {
      const m = `${child.path} is damaged, so it is not merged into ${v.name}: ${child.unreadable}`;
      if (!known(m)) report.problems.push(m);
      continue;
    }
    return { kind: 'merge', parent: v.name, child: child.name };
  }
  return undefined;
}
