import { formatBytes } from '../../src-shared/units.js';
import { SluiceError, type Damage, type ErrorContext } from '../errors/sluice-error.js';
import { digestsPathOf, type DigestsState, type VhdDigests } from '../formats/vhd/vhd-block-digests.js';
import { VhdChainReader, type VhdBlockCheck } from '../formats/vhd/vhd-chain-reader.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { FOOTER_SIZE } from '../formats/vhd/vhd-structures.js';
import { loadDigests, openVhd, type StoredVhd } from './remote-vhd-files.js';
import { asChainProblem } from './vhd-chain-problem.js';
import { deltaPointDisks, type DeltaPointDisk } from './point-disks.js';
import type { BackupPoint } from './repository-reader.js';

// Reading an incremental point's disks back: restore and export both start here, so a damaged chain is
// reported the same way (which point, which file, which byte) whichever of them found it.

/** One disk of a point, its chain opened and checked, ready to stream. */
export interface OpenedDisk {
  disk: DeltaPointDisk;
  chain: VhdChainReader;
}

export function damagedPoint(
  point: BackupPoint,
  message: string,
  damage: Damage | undefined,
  context: ErrorContext,
  cause?: unknown,
): SluiceError {
  return new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${message}`, {
    hint: "This point cannot be restored safely; use another point, and check the remote's disk.",
    context: { vm: point.vmName, point: point.id, ...context },
    ...(damage ? { damage } : {}),
    cause,
  });
}

/**
 * Opens every chain of a point before anything is created on the host: a missing parent or a damaged
 * header fails here, with nothing to clean up. Reads are checked against the recorded block digests.
 */
export async function openPointDisks(point: BackupPoint, only?: (d: DeltaPointDisk) => boolean): Promise<OpenedDisk[]> {
  const opened: OpenedDisk[] = [];
  try {
    for (const disk of (await deltaPointDisks(point)).filter((d) => !only || only(d))) {
      const check = await digestCheck(point, disk);
      const chain = await VhdChainReader.openEach(disk.chainKeys, (key) => openVhd(point.remote, key), { check });
      opened.push({ disk, chain });
    }
    return opened;
  } catch (thrown) {
    await Promise.all(opened.map((o) => o.chain.close()));
    const err = asChainProblem(thrown);
    if (err instanceof VhdFormatError)
      throw damagedPoint(point, err.message, { kind: err.damage, offset: err.offset, file: err.source ?? '' }, {}, err);
    if (err instanceof SluiceError && err.code === 'REMOTE_ERROR' && !err.message.includes(point.id))
      throw damagedPoint(point, err.message, err.damage, err.context, err);
    throw err;
  }
}

/**
 * A block check for a chain: each block read must match the digest recorded when its file was written. Each
 * file's size and checksum file are checked here, before anything is read: a damaged or unreadable checksum
 * file refuses the restore (a file another tool rewrote is read without digests, as verify says).
 */
async function digestCheck(point: BackupPoint, disk: DeltaPointDisk): Promise<VhdBlockCheck> {
  const byPath = new Map<string, DigestsState>();
  for (const [i, key] of disk.chainKeys.entries()) {
    const reader = await openVhd(point.remote, key);
    const f = reader.path;
    try {
      const sizeProblem = diskSizeProblem(point, disk, f, reader.footer.currentSize, i === disk.chain.length - 1);
      if (sizeProblem) throw sizeProblem;
      const state = await loadDigests(point.remote, key, reader);
      const problem = digestsProblem(point, f, state);
      if (problem) throw problem;
      const parts = await vhdPartsProblem(reader, state);
      if (parts) throw damagedPoint(point, parts.message, parts.damage, parts.context);
      byPath.set(f, state);
    } finally {
      await reader.close();
    }
  }
  return (file, index, stored) => {
    const state = byPath.get(file.path);
    if (state?.kind !== 'current') return;
    if (!state.digests.blockMatches(index, stored.bitmap, stored.data)) {
      // Only a VHD file has recorded digests (a directory's state is never 'current'), so it has a BAT offset.
      const at = file instanceof VhdFileReader ? file.bat[index]! * 512 : 0;
      throw damagedPoint(
        point,
        `${file.path}: block ${index} (byte ${at}) ${blockMismatch(file.path)}`,
        { kind: 'block', offset: at, file: file.path },
        { block: String(index), checksumFile: digestsPathOf(file.path) },
      );
    }
  };
}

/** Why a block differs from its digest: either it or the checksum file changed, and both are named. */
export function blockMismatch(vhd: string): string {
  return `does not match the checksum recorded for it in ${digestsPathOf(vhd)} when it was written`;
}

// The parts of a VHD a restore does not otherwise read, checked as verify checks them, so that a point verify
// calls damaged never restores: the footer copy at byte 0 must equal the trailing footer, and where Sluice
// recorded digests, the metadata region (footer copy, header, parent locators, BAT) must match its digest.
type VhdPartProblem = { message: string; damage: Damage; context: Record<string, string> } | undefined;

export async function footerCopyProblem(reader: StoredVhd): Promise<VhdPartProblem> {
  // A VHD directory stores its footer once.
  if (!(reader instanceof VhdFileReader)) return undefined;
  const head = await reader.readRaw(0, FOOTER_SIZE);
  const tail = await reader.readRaw(reader.fileSize - FOOTER_SIZE, FOOTER_SIZE);
  if (head.equals(tail)) return undefined;
  const file = reader.path;
  return {
    message: `${file}: the footer copy at byte 0 differs from the footer at the end of the file`,
    damage: { kind: 'footer', offset: 0, file },
    context: {},
  };
}

export async function metadataDigestProblem(reader: VhdFileReader, digests: VhdDigests): Promise<VhdPartProblem> {
  const length = digests.file.metadataBytes;
  if (digests.metadataMatches(await reader.readRaw(0, length))) return undefined;
  const file = reader.path;
  const checksumFile = digestsPathOf(file);
  return {
    message: `${file}: bytes 0–${length} (footer copy, header, parent locators, BAT) do not match the checksum recorded for them in ${checksumFile} when the backup wrote them`,
    damage: { kind: 'metadata', offset: 0, file },
    context: { checksumFile },
  };
}

/** Both checks above, for a restore (verify runs them between its own). */
async function vhdPartsProblem(reader: StoredVhd, state: DigestsState): Promise<VhdPartProblem> {
  return (
    (await footerCopyProblem(reader)) ??
    (state.kind === 'current' && reader instanceof VhdFileReader
      ? await metadataDigestProblem(reader, state.digests)
      : undefined)
  );
}

/**
 * A VHD must be the size the point's metadata records for its disk: the newest file exactly, older ones no
 * larger (a disk only grows). Otherwise a file with a forged footer would verify clean and restore or export
 * as a disk of any size (up to the 2 TiB a VHD can claim).
 */
export function diskSizeProblem(
  point: BackupPoint,
  disk: DeltaPointDisk,
  file: string,
  currentSize: number,
  newest: boolean,
): SluiceError | undefined {
  const recorded = disk.virtualSize;
  const sizes = (n: number) => `${formatBytes(n)} (${n} bytes)`;
  const context = { disk: disk.name, file, size: String(currentSize), recordedSize: String(recorded) };
  if (!Number.isSafeInteger(recorded) || recorded <= 0) {
    return damagedPoint(
      point,
      `its metadata records no size for disk "${disk.name}" (virtual_size ${JSON.stringify(disk.vdi['virtual_size'] ?? null)}), so ${file} (${sizes(currentSize)}) cannot be checked against it`,
      { kind: 'size', file: point.metadataPath },
      context,
    );
  }
  if (newest ? currentSize === recorded : currentSize <= recorded) return undefined;
  return damagedPoint(
    point,
    newest
      ? `${file} claims a disk of ${sizes(currentSize)}, but the metadata records ${sizes(recorded)} for disk "${disk.name}"`
      : `${file}, an older file of the chain of disk "${disk.name}", claims ${sizes(currentSize)}, more than the ${sizes(recorded)} the metadata records (a disk only grows)`,
    { kind: 'size', offset: 0, file },
    context,
  );
}

/** A checksum file that is damaged or unreadable, as a refusal naming it and what to do. */
export function digestsProblem(point: BackupPoint, file: string, state: DigestsState): SluiceError | undefined {
  if (state.kind === 'changed') return damagedPoint(point, state.reason, state.damage, { file });
  if (state.kind !== 'unreadable') return undefined;
  return new SluiceError(
    'REMOTE_ERROR',
    `The backup ${point.vmName} ${point.id} cannot be checked: the checksum file of ${file} is unreadable: ${state.reason}.`,
    {
      hint: `Without it a damaged block of ${file} would go unnoticed. Check the remote's disk, and restore another point if you can (\`sluice verify\` names the good ones). If the VHD must be read anyway, move ${state.file} out of the repository: it is then checked by its structure only.`,
      context: { vm: point.vmName, point: point.id, vhd: file, checksumFile: state.file },
      damage: { kind: 'checksum-format', file: state.file },
    },
  );
}
