import { digestsPathOf, DIGESTS_SUFFIX, noDigestsRecord } from '../formats/vhd/vhd-block-digests.js';
import type { Remote } from '../remotes/remote.js';
import { joinKey } from '../remotes/remote-key.js';
import { loadDigests, openVhd } from './remote-vhd-files.js';
import type { VhdFolderScan } from './vhd-folder-scan.js';

// What `sluice check` finds among the checksum files Sluice keeps beside its VHDs (`<ts>.vhd.checksum.json`),
// which Xen Orchestra leaves alone when it merges a chain:
//   orphan-checksum  the file of a VHD that is gone (XO merged it away): removed by --repair
//   stale-checksum   the file of a VHD that XO merged since (vhd-outside-merge.ts): --repair replaces it with a
//                    "none" record saying why, as Sluice's own merge does when there are no digests to carry
// Only such files of a disk folder are touched, and never while a merge is in progress there (Sluice's own
// merge moves checksum files about as it goes).

export interface ChecksumFileFinding {
  kind: 'orphan-checksum' | 'stale-checksum';
  /** The checksum file's key. */
  key: string;
  message: string;
}

/** The orphan and stale checksum files of one scanned disk folder (reads footers, headers and BATs only). */
export async function checksumFileFindings(scan: VhdFolderScan): Promise<ChecksumFileFinding[]> {
  if (scan.mergeStates.length > 0) return [];
  const out: ChecksumFileFinding[] = [];
  for (const name of scan.checksumFiles) {
    const vhdName = name.slice(0, -DIGESTS_SUFFIX.length);
    const key = joinKey(scan.folderKey, name);
    const vhd = scan.vhds.get(vhdName);
    if (!vhd) {
      out.push({
        kind: 'orphan-checksum',
        key,
        message: `the checksums of ${vhdName}, which is no longer there: most likely left by a merge of the chain by another tool (Xen Orchestra removes the merged-away VHD but not this file); safe to remove`,
      });
      continue;
    }
    if (vhd.unreadable) continue;
    const stale = await staleReason(scan.remote, vhd.key);
    if (stale) out.push({ kind: 'stale-checksum', key, message: stale });
  }
  return out;
}

/** Why the checksum file beside `vhdKey` no longer describes it because another tool merged it, if it does not. */
async function staleReason(remote: Remote, vhdKey: string): Promise<string | undefined> {
  const reader = await openVhd(remote, vhdKey).catch(() => undefined);
  if (!reader) return undefined;
  try {
    const state = await loadDigests(remote, vhdKey, reader);
    return state.kind === 'merged' ? state.reason : undefined;
  } finally {
    await reader.close();
  }
}

/**
 * Removes the orphan checksum files of a disk folder and retires the stale ones, judged again from a fresh scan
 * (never from an earlier report); returns what it did, in words.
 */
export async function repairChecksumFiles(scan: VhdFolderScan): Promise<string[]> {
  const done: string[] = [];
  for (const f of await checksumFileFindings(scan)) {
    const shown = scan.remote.displayPath(f.key);
    if (f.kind === 'orphan-checksum') {
      await scan.remote.delete(f.key);
      done.push(`Removed ${shown}: its VHD was merged away by another tool.`);
    } else {
      const vhdKey = f.key.slice(0, -DIGESTS_SUFFIX.length);
      if (digestsPathOf(vhdKey) !== f.key) continue;
      await scan.remote.overwrite(
        f.key,
        noDigestsRecord(
          `${scan.remote.displayPath(vhdKey)} was merged by another tool (most likely Xen Orchestra) after Sluice recorded its checksums, so it has none; its blocks are checked by structure only`,
        ),
      );
      done.push(`Replaced ${shown}, stale since another tool merged its VHD, with a record saying so.`);
    }
  }
  if (done.length > 0) await scan.remote.syncFolder(scan.folderKey);
  return done;
}
