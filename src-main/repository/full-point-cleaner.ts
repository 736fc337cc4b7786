import { promises as fs } from 'node:fs';
import path from 'node:path';
import { backupMetadataSchema } from './backup-metadata.js';
import { isTemporaryName } from './repository-layout.js';

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
export async function cleanFullBackupFolder(vmDir: string): Promise<CleanReport> {
  const report: CleanReport = { removedTemporary: [], removedOrphans: [], brokenMetadata: [], unreadableMetadata: [] };
  const names = await fs.readdir(vmDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  for (const name of names) {
    if (isTemporaryName(name)) {
      await fs.rm(path.join(vmDir, name), { force: true, recursive: true });
      report.removedTemporary.push(name);
    }
  }
  const referenced = new Set<string>();
  for (const name of names) {
    if (!name.endsWith('.json') || isTemporaryName(name) || name === 'cache.json') continue;
    const p = path.join(vmDir, name);
    let parsed;
    try {
      parsed = backupMetadataSchema.safeParse(JSON.parse(await fs.readFile(p, 'utf8')));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      // It may be the very point whose XVA looks orphaned: keep every file until the admin acts.
      report.unreadableMetadata.push(name);
      continue;
    }
    if (parsed.data.mode !== 'full') continue; // delta points are another cleaner's business
    const xva = path.basename(parsed.data.xva);
    if (!names.includes(xva)) {
      await fs.rm(p, { force: true });
      report.brokenMetadata.push(name);
      continue;
    }
    referenced.add(xva);
    referenced.add(`${xva}.checksum`);
  }
  if (report.unreadableMetadata.length > 0) return report;
  for (const name of names) {
    if ((name.endsWith('.xva') || name.endsWith('.xva.checksum')) && !isTemporaryName(name) && !referenced.has(name)) {
      await fs.rm(path.join(vmDir, name), { force: true });
      report.removedOrphans.push(name);
    }
  }
  return report;
}
