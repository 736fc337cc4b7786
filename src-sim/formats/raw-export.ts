import type { VirtualDisk } from '../disk/virtual-disk.js';
import { Pacer, type PaceOptions } from './pace.js';

const PIECE = 2 * 1024 * 1024;

/** The whole disk, zeros included, as /export_raw_vdi?format=raw sends it. */
export async function* rawExport(disk: VirtualDisk, opts: PaceOptions = {}): AsyncGenerator<Buffer> {
  const pacer = new Pacer(opts);
  for (let offset = 0; offset < disk.size; offset += PIECE) {
    const length = Math.min(PIECE, disk.size - offset);
    await pacer.produce(length);
    yield await disk.read(offset, length);
  }
}
