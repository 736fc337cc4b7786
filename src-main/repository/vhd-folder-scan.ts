import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { decodeFooter, decodeHeader, DiskType, FOOTER_SIZE, HEADER_SIZE } from '../formats/vhd/vhd-structures.js';
import { isMergeStateName, parentOfMergeState } from './merge-state.js';
import { isTemporaryName } from './repository-layout.js';

// One disk's folder of an incremental job (`vdis/<jobId>/<vdiUuid>/`): which VHDs it holds, how they link
// (a child names its parent's file and footer uuid), which are damaged, and what a crash left behind.
// Reads footers, headers and BATs only, so scanning a repository costs a few KiB per file.

export interface ScannedVhd {
  name: string;
  path: string;
  uuid?: string;
  differencing?: boolean;
  parentName?: string;
  parentUuid?: string;
  /** Why the file cannot be read, in words (truncated, bad checksum…); the other fields are then unknown. */
  unreadable?: string;
}

export interface VhdFolderScan {
  dir: string;
  vhds: Map<string, ScannedVhd>;
  /** State files of unfinished merges (names). */
  mergeStates: string[];
  /** Temporary files of writes that never finished (names). */
  temporaries: string[];
}

export async function scanVhdFolder(dir: string): Promise<VhdFolderScan> {
  const names = (
    await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    })
  ).sort();
  const scan: VhdFolderScan = { dir, vhds: new Map(), mergeStates: [], temporaries: [] };
  for (const name of names) {
    if (isMergeStateName(name)) scan.mergeStates.push(name);
    else if (isTemporaryName(name)) scan.temporaries.push(name);
    else if (name.endsWith('.vhd')) scan.vhds.set(name, await describeVhd(path.join(dir, name)));
  }
  return scan;
}

async function describeVhd(file: string): Promise<ScannedVhd> {
  const name = path.basename(file);
  try {
    const r = await VhdFileReader.open(file);
    await r.close();
    const differencing = r.footer.diskType === DiskType.Differencing;
    return {
      name,
      path: file,
      uuid: r.footer.uuid,
      differencing,
      ...(differencing
        ? { parentName: path.basename(r.header.parentName.replace(/\\/g, '/')), parentUuid: r.header.parentUuid }
        : {}),
    };
  } catch (err) {
    // The head of a damaged file (footer copy and header) usually survives a truncation or a bad trailing
    // footer, and tells whose child it is: without that, its parent could be taken for an orphan.
    return {
      name,
      path: file,
      ...(await readLinkLeniently(file)),
      unreadable: err instanceof Error ? err.message : String(err),
    };
  }
}

async function readLinkLeniently(file: string): Promise<Partial<ScannedVhd>> {
  try {
    const h = await fs.open(file, 'r');
    try {
      const head = Buffer.alloc(FOOTER_SIZE);
      await h.read(head, 0, FOOTER_SIZE, 0);
      const footer = decodeFooter(head, { offset: 0, source: file });
      const raw = Buffer.alloc(HEADER_SIZE);
      await h.read(raw, 0, HEADER_SIZE, footer.dataOffset);
      const header = decodeHeader(raw, { offset: footer.dataOffset, source: file });
      const differencing = footer.diskType === DiskType.Differencing;
      return {
        uuid: footer.uuid,
        differencing,
        ...(differencing
          ? { parentName: path.basename(header.parentName.replace(/\\/g, '/')), parentUuid: header.parentUuid }
          : {}),
      };
    } finally {
      await h.close();
    }
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

export type ChainProblem = { kind: 'missing-parent' | 'damaged' | 'wrong-parent'; file: string; message: string };

/** The chain of `name` from its full VHD to itself, or what breaks it. */
export function resolveChain(scan: VhdFolderScan, name: string): { paths: string[] } | { problem: ChainProblem } {
  const paths: string[] = [];
  const seen = new Set<string>();
  let current = scan.vhds.get(name);
  let wanted = name;
  let child: ScannedVhd | undefined;
  while (true) {
    if (!current) {
      const message = child
        ? `${child.path} needs its parent ${wanted}, which is missing`
        : `${path.join(scan.dir, wanted)} is missing`;
      return { problem: { kind: 'missing-parent', file: child?.path ?? path.join(scan.dir, wanted), message } };
    }
    if (current.unreadable) return { problem: { kind: 'damaged', file: current.path, message: current.unreadable } };
    if (child && child.parentUuid !== current.uuid) {
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
    paths.unshift(current.path);
    if (!current.differencing) return { paths };
    child = current;
    wanted = current.parentName!;
    current = scan.vhds.get(wanted);
  }
}
