import { CLUSTER_SIZE, type VirtualDisk } from '../disk/virtual-disk.js';
import { ByteReader } from './byte-reader.js';

export class RawImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RawImportError';
  }
}

/** Writes are whole clusters where possible, so the disk never has to read-modify-write. */
const WRITE_SIZE = 16 * CLUSTER_SIZE;

/** PUT /import_raw_vdi?format=raw: the body is the disk from byte 0. Returns the bytes written. */
export async function importRaw(disk: VirtualDisk, body: AsyncIterable<Buffer>): Promise<number> {
  const reader = new ByteReader(body);
  let offset = 0;
  try {
    for (;;) {
      const piece = await reader.read(WRITE_SIZE);
      if (piece.length === 0) break;
      if (offset + piece.length > disk.size) {
        throw new RawImportError(`the body exceeds the ${disk.size}-byte disk (at byte ${offset + piece.length})`);
      }
      await disk.write(offset, piece);
      offset += piece.length;
    }
  } finally {
    await reader.close();
  }
  return offset;
}
