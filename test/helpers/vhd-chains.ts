import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { DigestsState } from '../../src-main/formats/vhd/vhd-block-digests.js';
import { readVhdChain } from '../../src-main/formats/vhd/vhd-chain-reader.js';
import { FolderRemote } from '../../src-main/remotes/folder-remote-store.js';
import { loadDigests, openVhd } from '../../src-main/repository/remote-vhd-files.js';
import { vhdKeysOf } from '../../src-main/repository/point-file-keys.js';
import { baseName, parentKey } from '../../src-main/repository/repository-keys.js';
import type { BackupPoint } from '../../src-main/repository/repository-reader.js';
import { resolveChain, scanVhdFolder } from '../../src-main/repository/vhd-folder-scan.js';
import { qemuVhdToRaw } from './vhd-fixtures.js';

/** SHA-256 of the disk a chain stands for, read by Sluice's chain reader. */
export async function chainDigest(paths: string[]): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of readVhdChain(paths)) h.update(piece);
  return h.digest('hex');
}

/** The chain of one disk of a delta point, from its full VHD to the point's own file (throws if broken). */
export async function pointChain(point: BackupPoint, vdiUuid: string): Promise<string[]> {
  if (point.metadata.mode !== 'delta') throw new Error('not a delta point');
  const key = [...vhdKeysOf(point).values()].find((k) => k.includes(`/${vdiUuid}/`));
  if (!key) throw new Error(`point ${point.id} has no disk ${vdiUuid}`);
  const r = resolveChain(await scanVhdFolder(point.remote, parentKey(key)), baseName(key));
  if ('problem' in r) throw new Error(r.problem.message);
  return r.paths;
}

export { hasQemu } from './vhd-fixtures.js';

/** Whether the checksum file beside a local VHD still describes it, read as restore and verify read it. */
export async function digestsOf(file: string): Promise<DigestsState> {
  const remote = new FolderRemote(path.dirname(file));
  const reader = await openVhd(remote, path.basename(file));
  try {
    return await loadDigests(remote, path.basename(file), reader);
  } finally {
    await reader.close();
  }
}

/** SHA-256 of a (full) VHD as qemu-img converts it to raw: an independent reader of our merged files. */
export async function qemuDigest(vhd: string, scratchDir: string): Promise<string> {
  const out = qemuVhdToRaw(vhd, path.join(scratchDir, `${path.basename(vhd)}.${process.pid}.raw`));
  const h = createHash('sha256');
  for await (const chunk of createReadStream(out)) h.update(chunk as Buffer);
  await rm(out, { force: true });
  return h.digest('hex');
}
