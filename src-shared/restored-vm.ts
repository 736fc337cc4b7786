/**
 * How a restored VM is told apart from its original, which usually still runs on the same pool: its default
 * name carries the point's date, and it carries a tag, as Xen Orchestra's restores do (same words, so a pool
 * shared with XO reads the same).
 */
export const RESTORED_TAG = 'restored from backup';

/** "erp-db (2026-12-04 02:00 UTC)": the original's name and the point's time, in UTC so it reads the same everywhere. */
export function restoredVmName(originalName: string, pointTimestamp: Date | string): string {
  const at = new Date(pointTimestamp).toISOString();
  return `${originalName} (${at.slice(0, 10)} ${at.slice(11, 16)} UTC)`;
}
