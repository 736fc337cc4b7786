import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { backupMetadataSchema } from './backup-metadata.js';
import { isTemporaryName } from './repository-layout.js';
import { baseName, namedFileKey, parentKey } from './repository-keys.js';
import { METADATA_MAX_BYTES } from './repository-reader.js';

export interface CleanReport {
  removedTemporary: string[];
  removedOrphans: string[];
  brokenMetadata: string[];
  /** Metadata files that cannot be read: while there are any, no XVA of the folder is removed as an orphan. */
  unreadableMetadata: string[];
}

/**
 * The clean pass over one VM folder of full backups, run under the folder's lock (so nothing in it is being
 * written): temporary files are leftovers of a run that died, an .xva no metadata points to is an unfinished
 * point, and metadata whose .xva is missing is a point that can no longer be restored (reported and removed).
 * Metadata that cannot be read could be any point's: then no XVA is taken for an orphan.
 */
export async function cleanFullBackupFolder(remote: Remote, vmKey: string): Promise<CleanReport> {
  const report: CleanReport = { removedTemporary: [], removedOrphans: [], brokenMetadata: [], unreadableMetadata: [] };
  // Uploads a dead run left unfinished (an object store's multipart uploads): invisible in listings, but kept
  // (and billed) until aborted.
  for (const key of (await remote.abortUnfinishedUploads?.(vmKey)) ?? []) report.removedTemporary.push(baseName(key));
  const entries = await remote.list(vmKey);
  const names = entries.map((e) => e.name);
  for (const { name, kind } of entries) {
    // A link is never followed, nor removed: it is the admin's to look at.
    if (kind === 'file' && isTemporaryName(name)) {
      await remote.delete(joinKey(vmKey, name));
      report.removedTemporary.push(name);
    }
  }
  const referenced = new Set<string>();
  for (const { name, kind } of entries) {
    if (kind === 'folder' || !name.endsWith('.json') || isTemporaryName(name) || name === 'cache.json') continue;
    const key = joinKey(vmKey, name);
    let xva: string | undefined;
    let mode: string | undefined;
    try {
      if (kind === 'link') throw new Error('a link');
      const raw = await remote.read(key, { maxBytes: METADATA_MAX_BYTES });
      const parsed = backupMetadataSchema.parse(JSON.parse(raw.toString('utf8')));
      mode = parsed.mode;
      if (parsed.mode === 'full') xva = namedFileKey(vmKey, vmKey, parsed.xva, remote.label);
      // XO keeps a full point's XVA beside its metadata; one named elsewhere is not a layout this pass knows.
      if (xva !== undefined && parentKey(xva) !== vmKey) throw new Error('an XVA outside the VM folder');
    } catch {
      // It may be the very point whose XVA looks orphaned: keep every file until the admin acts.
      report.unreadableMetadata.push(name);
      continue;
    }
    if (mode !== 'full' || xva === undefined) continue; // delta points are another cleaner's business
    if (!names.includes(baseName(xva))) {
      await remote.delete(key);
      report.brokenMetadata.push(name);
      continue;
    }
    referenced.add(baseName(xva));
    referenced.add(`${baseName(xva)}.checksum`);
  }
  if (report.unreadableMetadata.length > 0) return report;
  for (const { name, kind } of entries) {
    if (kind !== 'file') continue;
    if ((name.endsWith('.xva') || name.endsWith('.xva.checksum')) && !isTemporaryName(name) && !referenced.has(name)) {
      await remote.delete(joinKey(vmKey, name));
      report.removedOrphans.push(name);
    }
  }
  if (report.removedTemporary.length + report.removedOrphans.length + report.brokenMetadata.length > 0)
    await remote.syncFolder(vmKey);
  return report;
}
