import type { VirtualDisk } from '../disk/virtual-disk.js';
import { ByteReader } from './byte-reader.js';
import { chunkChecksum, type ChecksumKind } from './chunk-checksum.js';
import { decompressAuto } from './decompress.js';
import { parseOvaXml, type OvaXml } from './ova-xml.js';
import { decodeTarHeader, isZeroBlock, TAR_BLOCK, tarPadding, type TarHeader } from './tar-header.js';

export class XvaFormatError extends Error {
  constructor(
    message: string,
    /** The tar entry at fault, e.g. "Ref:5/00000003", when there is one. */
    readonly chunk?: string,
  ) {
    super(chunk ? `${chunk}: ${message}` : message);
    this.name = 'XvaFormatError';
  }
}

const MAX_OVA_XML = 64 * 1024 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;

interface DiskProgress {
  disk: VirtualDisk;
  lastChunk: number;
  offset: number;
  firstChunkLength: number;
}

/**
 * Reads an XVA as PUT /import receives it (plain, gzip or zstd), hands ova.xml to onOva (which creates the
 * target disks and maps each "Ref:<n>" to one), verifies every chunk's checksum file and writes the chunks.
 * Offsets follow the host's rule: a gap of k in the sequence numbers is k zero chunks of the first chunk's
 * length; zero-length (keepalive) chunks take a number and no space.
 */
export async function importXva(
  body: AsyncIterable<Buffer>,
  onOva: (ova: OvaXml) => Promise<Map<string, VirtualDisk>>,
): Promise<void> {
  const reader = new ByteReader(decompressAuto(body));
  try {
    const first = await nextEntry(reader);
    if (!first || first.header.name !== 'ova.xml') {
      throw new XvaFormatError(
        `the first file must be ova.xml, not ${first ? `"${first.header.name}"` : 'the end of the archive'}`,
      );
    }
    if (first.header.size > MAX_OVA_XML)
      throw new XvaFormatError(`ova.xml of ${first.header.size} bytes is implausibly large`);
    const xml = (await readBody(reader, first.header)).toString('utf8');
    let ova: OvaXml;
    try {
      ova = parseOvaXml(xml);
    } catch (err) {
      throw new XvaFormatError(`ova.xml: ${(err as Error).message}`, 'ova.xml');
    }
    const targets = await onOva(ova);
    const progress = new Map<string, DiskProgress>();
    for (const [ref, disk] of targets) progress.set(ref, { disk, lastChunk: -1, offset: 0, firstChunkLength: -1 });

    for (;;) {
      const entry = await nextEntry(reader);
      if (!entry) break;
      const { header } = entry;
      const match = /^(.+)\/(\d+)$/.exec(header.name);
      if (!match) throw new XvaFormatError('expected a disk chunk', header.name);
      const [, ref, digits] = match as unknown as [string, string, string];
      const state = progress.get(ref);
      if (!state) throw new XvaFormatError(`no disk was created for ${ref}`, header.name);
      const chunkNo = Number(digits);
      if (chunkNo <= state.lastChunk)
        throw new XvaFormatError(`chunk numbers must increase (previous ${state.lastChunk})`, header.name);
      if (header.size > MAX_CHUNK)
        throw new XvaFormatError(`chunk of ${header.size} bytes is implausibly large`, header.name);
      const data = await readBody(reader, header);
      if (state.firstChunkLength < 0) state.firstChunkLength = data.length;
      const offset = state.offset + (chunkNo - state.lastChunk - 1) * state.firstChunkLength;
      if (offset + data.length > state.disk.size) {
        throw new XvaFormatError(
          `chunk ends at ${offset + data.length}, beyond the ${state.disk.size}-byte disk`,
          header.name,
        );
      }
      await verifyChecksum(reader, header.name, data);
      if (data.length > 0) await state.disk.write(offset, data);
      state.offset = offset + data.length;
      state.lastChunk = chunkNo;
    }

    for (const [ref, state] of progress) {
      if (state.offset !== state.disk.size) {
        throw new XvaFormatError(
          `disk ${ref} ended at byte ${state.offset} of ${state.disk.size}: the archive is incomplete`,
        );
      }
    }
  } finally {
    await reader.close();
  }
}

async function verifyChecksum(reader: ByteReader, chunkName: string, data: Buffer): Promise<void> {
  const entry = await nextEntry(reader);
  if (!entry) throw new XvaFormatError('no checksum file follows the chunk', chunkName);
  const name = entry.header.name;
  let kind: ChecksumKind;
  if (name === `${chunkName}.xxhash`) kind = 'xxhash';
  else if (name === `${chunkName}.checksum`) kind = 'checksum';
  else throw new XvaFormatError(`expected ${chunkName}.xxhash or .checksum, found "${name}"`, chunkName);
  if (entry.header.size > 128) throw new XvaFormatError('checksum file too large', name);
  const stored = (await readBody(reader, entry.header)).toString('latin1').trim();
  const computed = await chunkChecksum(kind, data);
  // xxhash is compared case-insensitively: the host writes uppercase, other writers may not.
  if (stored.toLowerCase() !== computed.toLowerCase()) {
    throw new XvaFormatError(
      `checksum mismatch: the archive says ${stored}, the data hashes to ${computed}`,
      chunkName,
    );
  }
}

interface Entry {
  header: TarHeader;
}

/** The next regular file's header, or undefined at the end-of-archive marker. */
async function nextEntry(reader: ByteReader): Promise<Entry | undefined> {
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  for (;;) {
    const at = reader.position;
    const block = await reader.read(TAR_BLOCK);
    if (block.length === 0)
      throw new XvaFormatError(`the archive ends without an end-of-archive marker (at byte ${at})`);
    if (block.length < TAR_BLOCK) throw new XvaFormatError(`the archive is truncated inside a header (at byte ${at})`);
    if (isZeroBlock(block)) return undefined;
    let header: TarHeader;
    try {
      header = decodeTarHeader(block, at);
    } catch (err) {
      throw new XvaFormatError((err as Error).message);
    }
    if (header.type === 'L') {
      longName = (await readBody(reader, header)).toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (header.type === 'x') {
      const pax = parsePax(await readBody(reader, header));
      paxPath = pax.path ?? paxPath;
      paxSize = pax.size ?? paxSize;
      continue;
    }
    if (header.type !== '0' && header.type !== '7') {
      // Directories, global pax headers and the like carry nothing an XVA needs.
      await readBody(reader, header);
      continue;
    }
    return { header: { ...header, name: paxPath ?? longName ?? header.name, size: paxSize ?? header.size } };
  }
}

async function readBody(reader: ByteReader, header: TarHeader): Promise<Buffer> {
  const data = await reader.read(header.size);
  if (data.length < header.size)
    throw new XvaFormatError(`the archive is truncated (${data.length} of ${header.size} bytes)`, header.name);
  const padding = tarPadding(header.size);
  if ((await reader.skip(padding)) < padding)
    throw new XvaFormatError('the archive is truncated in padding', header.name);
  return data;
}

function parsePax(body: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  for (const line of body.toString('utf8').split('\n')) {
    const m = /^\d+ ([^=]+)=(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'path') out.path = m[2];
    if (m[1] === 'size') out.size = Number(m[2]);
  }
  return out;
}
