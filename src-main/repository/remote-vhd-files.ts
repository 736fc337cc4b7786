import { SluiceError } from '../errors/sluice-error.js';
import {
  DEFAULT_MAX_DIGESTS_BYTES,
  digestsPathOf,
  digestsStateOf,
  maxDigestsBytes,
  parseDigestsRecord,
  type DigestsRecord,
  type DigestsState,
} from '../formats/vhd/vhd-block-digests.js';
import { isAliasName } from '../formats/vhd/vhd-directory.js';
import { VhdDirectoryReader } from '../formats/vhd/vhd-directory-reader.js';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { readHeaderChecksum } from '../formats/vhd/vhd-dynamic-file.js';
import type { Remote } from '../remotes/remote.js';
import { aliasDirectory, remoteDirectoryStore } from './vhd-directory-files.js';

// A VHD and its checksum file, read through the remote that holds them (by key): what restore, verify and the
// merge read of an incremental point's files. formats/vhd/ parses and judges; this is where the bytes come from.

/** A VHD of a chain as stored: a file, or a VHD directory through its alias (`<ts>.alias.vhd`). */
export type StoredVhd = VhdFileReader | VhdDirectoryReader;

/**
 * Opens a VHD strictly (footer, header and BAT checked); the reader names it as the remote shows it. An alias
 * opens the directory it names (refused when it leads outside its VM folder).
 */
export async function openVhd(remote: Remote, key: string): Promise<StoredVhd> {
  if (isAliasName(key)) return VhdDirectoryReader.open(remoteDirectoryStore(remote, await aliasDirectory(remote, key)));
  return VhdFileReader.openFile(await remote.openRead(key));
}

/** A VHD file only, for the code that works on a file's bytes (the in-place merge, digests). */
export async function openVhdFile(remote: Remote, key: string): Promise<VhdFileReader> {
  return VhdFileReader.openFile(await remote.openRead(key));
}

/** The checksum file of a VHD as it is (undefined when there is none); an unreadable one throws, naming it. */
export async function readDigestsRecordAt(
  remote: Remote,
  key: string,
  maxBytes = DEFAULT_MAX_DIGESTS_BYTES,
): Promise<DigestsRecord | undefined> {
  const shown = remote.displayPath(key);
  let data: Buffer | undefined;
  try {
    data = await remote.readIfExists(key, { maxBytes });
  } catch (err) {
    // The size refusal, in the words of a checksum file; any other read error as the remote describes it.
    if (err instanceof SluiceError && err.damage?.kind === 'size')
      throw new Error(`${shown} is larger than the ${maxBytes} bytes a checksum file of its VHD can be`);
    throw err;
  }
  return data === undefined ? undefined : parseDigestsRecord(shown, data.toString('utf8'));
}

/**
 * Whether the digests recorded next to a VHD (`vhdKey`, open in `vhd`) still describe it. A VHD directory has
 * none (XO writes none, and its blocks are objects of their own): it is checked by its structure.
 */
export async function loadDigests(remote: Remote, vhdKey: string, vhd: StoredVhd): Promise<DigestsState> {
  if (vhd instanceof VhdDirectoryReader) return { kind: 'absent', reason: 'a VHD directory has no checksum file' };
  const sidecar = digestsPathOf(vhdKey);
  const record = await readDigestsRecordAt(remote, sidecar, maxDigestsBytes(vhd.header.maxTableEntries)).catch(
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  return digestsStateOf(vhd, remote.displayPath(sidecar), record);
}

/** As readHeaderChecksum, on a file of the remote opened for this alone. */
export async function headerChecksumAt(remote: Remote, key: string): Promise<number> {
  const file = await remote.openRead(key);
  try {
    return await readHeaderChecksum(file);
  } finally {
    await file.close();
  }
}

/**
 * What a VHD takes: a file's length; for a VHD directory, the length the same VHD would have as a file
 * (footer copy, header, BAT, its blocks, footer: XO's size of a directory), from its footer, header and bat.
 */
export async function storedVhdBytes(remote: Remote, key: string): Promise<number | undefined> {
  if (!isAliasName(key)) {
    const st = await remote.stat(key).catch(() => undefined);
    return st?.kind === 'file' ? st.size : undefined;
  }
  const dir = await openVhd(remote, key).catch(() => undefined);
  if (!(dir instanceof VhdDirectoryReader)) return undefined;
  const batBytes = Math.ceil((dir.header.maxTableEntries * 4) / 512) * 512;
  return 512 + 1024 + batBytes + dir.storedBlocks().length * dir.storedBlockBytes + 512;
}
