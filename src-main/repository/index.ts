/**
 * The repository: Xen Orchestra's backup layout (format 2.0.0, see repository-layout.ts), which Sluice writes
 * and reads so either tool restores the other's backups. This file is the door: code outside repository/
 * imports only from here (lint enforces it), and no file outside builds a repository path.
 *
 * What it offers:
 * - listing: every point of a repository (`listBackupPoints`), their chains in words (`describePointChains`);
 * - per VM, a `BackupFolder`: its lock, its points, the leftovers of runs that died, a new full point (an XVA,
 *   then its checksum and the metadata, written last), a new delta disk and the metadata that commits it, and
 *   settling the chains before a run builds on them;
 * - a point's disks for reading (`openPointDisks` for VHD chains, `fullPointDisks`/`openPlainXva`/`xvaDiskRaw`
 *   for XVAs), deleting a point with its merge (`deleteBackupPoint`), retention (`applyRetention`);
 * - checking: `verifyPoint` (with `withNearestGoodPoint` for a restore that meets damage), `checkRepository`.
 * Unreadable metadata holds everything it might reference: nothing is deleted or merged past it.
 */
export { BackupFolder, type FullPointWriter } from './backup-folder.js';
export { listBackupPoints, type BackupPoint, type UnreadableMetadata } from './repository-reader.js';
export { BACKUPS_DIR, METADATA_VERSION, formatTimestamp } from './repository-layout.js';
export type { BackupMetadata, DeltaMetadata, FullMetadata } from './backup-metadata.js';
export { describePointChains, pointKey } from './point-chains.js';
export { pointSizes } from './point-sizes.js';
export { deltaPointDisks, pickDisk, type DeltaPointDisk } from './point-disks.js';
export { openPointDisks, type OpenedDisk } from './point-disk-readers.js';
export { fullPointDisks, fullXvaFile, openPlainXva, xvaDiskRaw, xvaPathOf } from './full-point-reader.js';
export { xvaKeyOf } from './point-file-keys.js';
export { deleteBackupPoint } from './point-deleter.js';
export { applyRetention, type RetentionOutcome } from './apply-retention.js';
export { longTermTags, type RetentionPolicy } from './retention-plan.js';
export type { CollapseOptions } from './chain-collapser.js';
export type { VhdMergeProgress } from './vhd-merge.js';
export { verifyPoint, withNearestGoodPoint } from './verify-point.js';
export { verifyFullPoint } from './verify-full-point.js';
export {
  readXvaChecksumFile,
  unreadableXvaChecksum,
  xvaChecksumMismatch,
  type XvaChecksumFile,
} from './xva-checksum-file.js';
export type { FileVerifyCache } from './verify-chain-point.js';
export { checkRepository, type RepositoryProblem } from './repository-check.js';
export { refuseDeltaWithoutVhdFiles } from './delta-layout-support.js';
