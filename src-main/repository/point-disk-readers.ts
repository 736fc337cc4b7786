import { SluiceError, type Damage, type ErrorContext } from '../errors/sluice-error.js';
import { loadDigests } from '../formats/vhd/vhd-block-digests.js';
import { VhdChainReader, type VhdBlockCheck } from '../formats/vhd/vhd-chain-reader.js';
import { VhdFormatError } from '../formats/vhd/vhd-errors.js';
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
      const check = await digestCheck(point, disk.chain);
      opened.push({ disk, chain: await VhdChainReader.open(disk.chain, { check }) });
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

/** A block check for a chain: each block read must match the digest recorded when its file was written. */
async function digestCheck(point: BackupPoint, files: string[]): Promise<VhdBlockCheck> {
  const byPath = new Map<string, Awaited<ReturnType<typeof loadDigests>>>();
  for (const f of files) byPath.set(f, await loadDigests(f));
  return (file, index, stored) => {
    const state = byPath.get(file.path);
    if (state?.kind !== 'current') return;
    if (!state.digests.blockMatches(index, stored.bitmap, stored.data)) {
      const at = file.bat[index]! * 512;
      throw damagedPoint(
        point,
        `${file.path}: block ${index} (byte ${at}) does not match the checksum recorded when it was written`,
        { kind: 'block', offset: at, file: file.path },
        { block: String(index) },
      );
    }
  };
}
