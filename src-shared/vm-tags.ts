/**
 * The tag that keeps a VM out of every backup (the convention Xen Orchestra set, so a pool tagged there behaves
 * the same here). The engine skips such VMs; the UI greys them out and counts them.
 */
export const NO_BACKUP_TAG = 'xo:no-bak';
