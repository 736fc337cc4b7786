import path from 'node:path';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { DIGESTS_SUFFIX } from '../formats/vhd/vhd-block-digests.js';
import { isAliasName } from '../formats/vhd/vhd-directory.js';
import { readDirectoryLink } from '../formats/vhd/vhd-directory-reader.js';
import { openVhd } from './remote-vhd-files.js';
import { aliasDirectory, remoteDirectoryStore } from './vhd-directory-files.js';
import { decodeFooter, decodeHeader, DiskType, FOOTER_SIZE, HEADER_SIZE } from '../formats/vhd/vhd-structures.js';
import { isMergeStateName, parentOfMergeState } from './merge-state.js';
import { isTemporaryName } from './repository-layout.js';

// One disk's folder of an incremental job (`vdis/<jobId>/<vdiUuid>/`): which VHDs it holds, how they link
// (a child names its parent's file and footer uuid), which are damaged, and what a crash left behind.
// Reads footers, headers and BATs only, so scanning a repository costs a few KiB per file.

export interface ScannedVhd {
  name: string;
  /** Its key on the remote. */
  key: string;
  /** For messages. */
  path: string;
  uuid?: string;
  differencing?: boolean;
  parentName?: string;
  parentUuid?: string;
  /** Why the file cannot be read, in words (truncated, bad checksum…); the other fields are then unknown. */
  unreadable?: string;
}

export interface VhdFolderScan {
  remote: Remote;
  /** The folder's key on the remote. */
  folderKey: string;
  /** For messages: the folder as the admin names it. */
  dir: string;
  vhds: Map<string, ScannedVhd>;
  /** State files of unfinished merges (names). */
  mergeStates: string[];
  /** Temporary files of writes that never finished (names). */
  temporaries: string[];
  /** The `<name>.vhd.checksum.json` files beside the VHDs (names), whether or not their VHD is still there. */
  checksumFiles: string[];
}

export async function scanVhdFolder(remote: Remote, folderKey: string): Promise<VhdFolderScan> {
  const entries = (await remote.list(folderKey)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const scan: VhdFolderScan = {
    remote,
    folderKey,
    dir: remote.displayPath(folderKey),
    vhds: new Map(),
    mergeStates: [],
    temporaries: [],
    checksumFiles: [],
  };
  for (const { name, kind } of entries) {
    if (kind === 'folder') continue;
    const key = joinKey(folderKey, name);
    if (kind === 'link') {
      // Listed, so that its parent is never taken for an orphan, but never opened, merged or removed.
      if (name.endsWith('.vhd'))
        scan.vhds.set(name, { name, key, path: remote.displayPath(key), unreadable: LINKED_VHD });
    } else if (isMergeStateName(name)) scan.mergeStates.push(name);
    else if (isTemporaryName(name)) scan.temporaries.push(name);
    else if (name.endsWith('.vhd')) scan.vhds.set(name, await describeVhd(remote, key, name));
    else if (name.endsWith(VHD_CHECKSUM_SUFFIX)) scan.checksumFiles.push(name);
  }
  return scan;
}

const VHD_CHECKSUM_SUFFIX = `.vhd${DIGESTS_SUFFIX}`;

const LINKED_VHD = 'it is a link, and Sluice never follows links inside a repository; replace it with the file itself';

async function describeVhd(remote: Remote, key: string, name: string): Promise<ScannedVhd> {
  const shown = remote.displayPath(key);
  try {
    const r = await openVhd(remote, key);
    await r.close();
    const differencing = r.footer.diskType === DiskType.Differencing;
    return {
      name,
      key,
      path: shown,
      uuid: r.footer.uuid,
      differencing,
      ...(differencing ? { parentName: parentFileName(r.header.parentName), parentUuid: r.header.parentUuid } : {}),
    };
  } catch (err) {
    // The head of a damaged file (footer copy and header) usually survives a truncation or a bad trailing
    // footer, and tells whose child it is: without that, its parent could be taken for an orphan.
    return {
      name,
      key,
      path: shown,
      ...(await readLinkLeniently(remote, key)),
      unreadable: err instanceof Error ? err.message : String(err),
    };
  }
}

/**
 * A chain lives in one folder: a parent is named by its file name, and a locator that says more (`../x.vhd`,
 * an absolute path) still only ever names a sibling.
 */
function parentFileName(locator: string): string {
  return path.posix.basename(locator.replace(/\\/g, '/'));
}

async function readLinkLeniently(remote: Remote, key: string): Promise<Partial<ScannedVhd>> {
  try {
    if (isAliasName(key)) {
      // A directory whose block table or filters are damaged may still have a readable footer and header.
      const link = await readDirectoryLink(remoteDirectoryStore(remote, await aliasDirectory(remote, key)));
      const differencing = link.footer.diskType === DiskType.Differencing;
      return {
        uuid: link.footer.uuid,
        differencing,
        ...(differencing
          ? { parentName: parentFileName(link.header.parentName), parentUuid: link.header.parentUuid }
          : {}),
      };
    }
    const head = await remote.readRange(key, 0, FOOTER_SIZE);
    const footer = decodeFooter(head, { offset: 0, source: key });
    const raw = await remote.readRange(key, footer.dataOffset, HEADER_SIZE);
    const header = decodeHeader(raw, { offset: footer.dataOffset, source: key });
    const differencing = footer.diskType === DiskType.Differencing;
    return {
      uuid: footer.uuid,
      differencing,
      ...(differencing ? { parentName: parentFileName(header.parentName), parentUuid: header.parentUuid } : {}),
    };
  } catch {
    return {};
  }
}

/** Damaged VHDs whose parent could not be read: any unused VHD of the folder may be the one they need. */
export function damagedWithUnknownParent(scan: VhdFolderScan): ScannedVhd[] {
  return [...scan.vhds.values()].filter((v) => v.unreadable && v.differencing === undefined);
}

/** The VHDs whose header names `name` as their parent (by file name and footer uuid). */
export function childrenOf(scan: VhdFolderScan, name: string): ScannedVhd[] {
  const parent = scan.vhds.get(name);
  if (!parent?.uuid) return [...scan.vhds.values()].filter((v) => v.parentName === name);
  return [...scan.vhds.values()].filter((v) => v.parentName === name && v.parentUuid === parent.uuid);
}

/** Files a merge in progress is rewriting: a scan sees them mid-change, which is not damage. */
export function filesInMerge(scan: VhdFolderScan): Set<string> {
  return new Set(scan.mergeStates.map(parentOfMergeState));
}

/** `missing` (missing-parent only) is the file not found; `file` is the one that needs it (or itself, first). */
export type ChainProblem = {
  kind: 'missing-parent' | 'damaged' | 'wrong-parent';
  file: string;
  message: string;
  missing?: string;
};

/** A chain's files, from the full VHD to the newest: their keys, and how messages name them. */
export interface ResolvedChain {
  keys: string[];
  paths: string[];
}

/** The chain of `name` from its full VHD to itself, or what breaks it. */
export function resolveChain(scan: VhdFolderScan, name: string): ResolvedChain | { problem: ChainProblem } {
  const keys: string[] = [];
  const paths: string[] = [];
  const seen = new Set<string>();
  let current = scan.vhds.get(name);
  let wanted = name;
  let child: ScannedVhd | undefined;
  while (true) {
    if (!current) {
      const wantedPath = scan.remote.displayPath(joinKey(scan.folderKey, wanted));
      const message = child
        ? `${child.path} needs its parent ${wantedPath}, which is missing`
        : `${wantedPath} is missing`;
      return { problem: { kind: 'missing-parent', file: child?.path ?? wantedPath, message, missing: wantedPath } };
    }
    if (current.unreadable) return { problem: { kind: 'damaged', file: current.path, message: current.unreadable } };
    if (child && child.parentUuid !== current.uuid && standsInForChild(scan, current, child)) {
      // The end of a merge (vhd-merge.ts): the parent holds every block of the child and took its identity,
      // and only the rename over the child is left. Read alone it is the child's disk, so it replaces the
      // child in the chain; the child's own link names the parent's old uuid and no longer matches.
      keys.shift();
      paths.shift();
    } else if (child && child.parentUuid !== current.uuid) {
      return {
        problem: {
          kind: 'wrong-parent',
          file: child.path,
          message: `${child.path} is a child of VHD ${child.parentUuid}, but ${current.path} is VHD ${current.uuid}`,
        },
      };
    }
    if (seen.has(current.name))
      return { problem: { kind: 'wrong-parent', file: current.path, message: `${current.path} is its own ancestor` } };
    seen.add(current.name);
    keys.unshift(current.key);
    paths.unshift(current.path);
    if (!current.differencing) return { keys, paths };
    child = current;
    wanted = current.parentName!;
    current = scan.vhds.get(wanted);
  }
}

/** The parent of an unfinished merge that already carries the child's uuid (its new footer is written). */
function standsInForChild(scan: VhdFolderScan, parent: ScannedVhd, child: ScannedVhd): boolean {
  return parent.uuid !== undefined && parent.uuid === child.uuid && filesInMerge(scan).has(parent.name);
}
