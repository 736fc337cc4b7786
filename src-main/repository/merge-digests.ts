import { SluiceError } from '../errors/sluice-error.js';
import {
  compareWithFile,
  digestsFileText,
  digestsPathOf,
  noDigestsRecord,
  VhdDigestCollector,
  type DigestsRecord,
  type DigestsState,
} from '../formats/vhd/vhd-block-digests.js';
import { readVhdAt } from '../formats/vhd/vhd-file-reader.js';
import type { Remote } from '../remotes/remote.js';
import { baseName, parentKey as parentKeyOf } from './repository-keys.js';
import { loadDigests, openVhdFile, readDigestsRecordAt } from './remote-vhd-files.js';

// The block digests (formats/vhd-block-digests.ts) of a merged VHD: the parent's for the blocks the merge left
// alone, fresh ones for the blocks it wrote. While the merge runs, no digests file sits beside the parent (its
// blocks are changing); the parent's recorded digests wait in `<parent>.merge-checksum.json` (a name no scan
// takes for a VHD, a temporary or a merge state), so a resume still has them. Only once the parent holds the
// final bytes are the merged file's digests written beside it, and they follow it in the final rename.

export function parentDigestsAsideKey(parentKey: string): string {
  return `${parentKey}.merge-checksum.json`;
}

/**
 * Before a fresh merge writes anything: moves the parent's digests aside, or records why there are none to
 * carry over. Must run before the state file exists, so a resume always finds the aside file it left.
 */
export async function setAsideParentDigests(remote: Remote, parentKey: string): Promise<void> {
  const aside = parentDigestsAsideKey(parentKey);
  const name = baseName(parentKey);
  const parent = await openVhdFile(remote, parentKey);
  try {
    const state = await loadDigests(remote, parentKey, parent);
    refuseDamagedMerge(state, parent.path);
    if (state.kind === 'current') {
      await remote.rename(digestsPathOf(parentKey), aside, { replace: true });
    } else {
      // A fresh merge that stopped after moving them aside, before writing its state: the parent is untouched.
      const leftover =
        state.kind === 'absent' && !state.reason
          ? await readDigestsRecordAt(remote, aside).catch(() => undefined)
          : undefined;
      const usable =
        leftover && leftover.algorithm !== 'none' && (await compareWithFile(leftover, parent)).kind === 'same';
      if (!usable) {
        const why =
          state.kind === 'absent'
            ? (state.reason ?? `${name} had no checksums (written by Xen Orchestra or an older Sluice)`)
            : `the checksums of ${name} were not usable: ${state.reason}`;
        await remote.overwrite(aside, noDigestsRecord(why));
      }
      await remote.delete(digestsPathOf(parentKey));
    }
  } finally {
    await parent.close();
  }
  await remote.syncFolder(parentKeyOf(parentKey));
}

/**
 * A merge must not bless damage with fresh digests: a file whose length or BAT changed since Sluice wrote it,
 * or whose checksum file cannot be read, is not merged until someone has looked at it.
 */
export function refuseDamagedMerge(state: DigestsState, vhdPath: string): void {
  if (state.kind !== 'changed' && state.kind !== 'unreadable') return;
  throw new SluiceError('REMOTE_ERROR', `Refusing to merge ${vhdPath}: ${state.reason}.`, {
    hint:
      state.kind === 'unreadable'
        ? `Run \`sluice verify\` on this remote to see whether the VHD itself is sound; if it is and the checksum file is beyond repair, move ${state.file} out of the repository (the merged file then has no checksums).`
        : "The file may be damaged: run `sluice verify` on this remote, and check the remote's disk. The points stay as they are until then.",
    context: { remote: vhdPath, phase: 'merge' },
    damage: state.kind === 'changed' ? state.damage : { kind: 'checksum-format', file: state.file },
  });
}

export interface MergedDigests {
  collector: VhdDigestCollector;
  /** How much of the file's head the metadata digest covers (footer copy, header, locators, BAT). */
  metadataBytes: number;
}

/**
 * When a merge (re)starts writing into the parent: any digests file beside it goes (a resumed merge may find
 * the final one of a run that stopped just after writing it), and the digests to carry over are loaded.
 * Returns a collector to record the merged blocks in, or why the merged file will have no digests.
 */
export async function startMergedDigests(
  remote: Remote,
  parentKey: string,
  entries: number,
): Promise<MergedDigests | string> {
  await remote.delete(digestsPathOf(parentKey));
  let aside: DigestsRecord | undefined;
  try {
    aside = await readDigestsRecordAt(remote, parentDigestsAsideKey(parentKey));
  } catch (err) {
    return (err as Error).message;
  }
  if (!aside)
    return `merged by a run that did not keep the checksums of ${baseName(parentKey)} (a merge Xen Orchestra started?)`;
  if (aside.algorithm === 'none') return `merged from files without checksums: ${aside.reason}`;
  return { collector: await VhdDigestCollector.fromRecorded(aside, entries), metadataBytes: aside.metadataBytes };
}

/** After the parent's last write: its digests file, describing it as it now is on disk. */
export async function writeMergedDigests(
  remote: Remote,
  parentKey: string,
  digests: MergedDigests | string,
): Promise<void> {
  const target = digestsPathOf(parentKey);
  if (typeof digests === 'string') {
    await remote.writeNew(target, noDigestsRecord(digests));
    return;
  }
  const file = await remote.openRead(parentKey);
  let metadata: Buffer;
  try {
    metadata = await readVhdAt(file, 0, digests.metadataBytes);
  } finally {
    await file.close();
  }
  await remote.writeNew(
    target,
    await digestsFileText(await openVhdFile(remote, parentKey), digests.collector, metadata),
  );
}

/** The last step, after the merged VHD took the child's name: its digests follow; the aside file goes. */
export async function finishMergedDigests(remote: Remote, parentKey: string, childKey: string): Promise<void> {
  // Absent when an earlier run already moved them (it stopped after this rename).
  if (await remote.stat(digestsPathOf(parentKey)))
    await remote.rename(digestsPathOf(parentKey), digestsPathOf(childKey), { replace: true });
  await remote.delete(parentDigestsAsideKey(parentKey));
}
