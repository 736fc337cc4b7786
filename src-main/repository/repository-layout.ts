import path from 'node:path';

/**
 * Xen Orchestra's repository layout (format 2.0.0), which Sluice writes and reads so either tool can restore
 * the other's backups:
 *   <root>/xo-vm-backups/<vmUuid>/<ts>.json   metadata, written last: the commit marker of a point
 *   <root>/xo-vm-backups/<vmUuid>/<ts>.xva    full backup
 *   <root>/xo-vm-backups/<vmUuid>/<ts>.xva.checksum
 *   <root>/xo-vm-backups/<vmUuid>/vdis/<jobId>/<vdiUuid>/<ts>.vhd
 */
export const BACKUPS_DIR = 'xo-vm-backups';
export const METADATA_VERSION = '2.0.0';

/** `%Y%m%dT%H%M%SZ` in UTC, e.g. 20250101T020000Z. */
export function formatTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export function parseTimestamp(ts: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(ts);
  if (!m) return null;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export function vmFolder(root: string, vmUuid: string): string {
  return path.join(root, BACKUPS_DIR, vmUuid);
}

/** Temporary names start with a dot so listings skip them and a clean pass can find them. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') && name !== '.' && name !== '..' && !name.endsWith('.merge.json');
}
