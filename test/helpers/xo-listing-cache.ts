import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

// Xen Orchestra's listing cache of a VM folder, as XO writes and reads it (facts from @xen-orchestra/backups'
// RemoteAdapter, read for this test): `cache.json.gz` is gzip of one JSON object whose keys are the metadata
// files' absolute remote paths (`/xo-vm-backups/<vm>/<ts>.json`) and whose values are the metadata with
// `_filename` and `id` set to that path. XO lists from it when present and rebuilds it from the .json files when
// it is missing or unreadable.

const folderOf = (remote: string, vmUuid: string) => path.join(remote, 'xo-vm-backups', vmUuid);
const keyOf = (vmUuid: string, name: string) => `/xo-vm-backups/${vmUuid}/${name}`;

/** The metadata files as they are in the folder: the truth XO's listing must show. */
export function metadataOnDisk(remote: string, vmUuid: string): string[] {
  const dir = folderOf(remote, vmUuid);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .map((n) => keyOf(vmUuid, n))
    .sort();
}

/** Writes the cache as XO does after it listed the folder (or after its own backup). */
export function writeXoCache(remote: string, vmUuid: string): void {
  const dir = folderOf(remote, vmUuid);
  const entries: Record<string, unknown> = {};
  for (const key of metadataOnDisk(remote, vmUuid)) {
    const metadata = JSON.parse(readFileSync(path.join(dir, path.posix.basename(key)), 'utf8')) as object;
    entries[key] = { ...metadata, _filename: key, id: key };
  }
  writeFileSync(path.join(dir, 'cache.json.gz'), gzipSync(JSON.stringify(entries)));
}

/** What XO lists for the VM: the cache when it reads, else a rebuild from the metadata files. */
export function xoListing(remote: string, vmUuid: string): string[] {
  const file = path.join(folderOf(remote, vmUuid), 'cache.json.gz');
  if (existsSync(file)) {
    try {
      return Object.keys(JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as object).sort();
    } catch {
      // XO rebuilds an unreadable cache.
    }
  }
  return metadataOnDisk(remote, vmUuid);
}
