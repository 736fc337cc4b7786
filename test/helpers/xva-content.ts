import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { VirtualDisk } from '../../src-sim/disk/virtual-disk.js';
import { rawExport } from '../../src-sim/formats/raw-export.js';
import { importXva } from '../../src-sim/formats/xva-import.js';

/**
 * The disks inside an XVA file, read back the way a host's /import would (the simulator's reader, not ours),
 * as SHA-256 of their raw content: the test's independent witness that a backup holds the right bytes.
 */
export async function hashDisksInXva(xvaPath: string, workDir: string): Promise<string[]> {
  const disks: VirtualDisk[] = [];
  await importXva(createReadStream(xvaPath), async (ova) => {
    const map = new Map<string, VirtualDisk>();
    for (const o of ova.objects) {
      if (o.class !== 'VDI') continue;
      const d = new VirtualDisk({
        size: Number(o.snapshot.virtual_size),
        seed: 0,
        allocatedFraction: 0,
        backingDir: workDir,
      });
      disks.push(d);
      map.set(o.id, d);
    }
    return map;
  });
  const hashes: string[] = [];
  for (const d of disks) {
    const h = createHash('sha256');
    for await (const chunk of rawExport(d)) h.update(chunk);
    hashes.push(h.digest('hex'));
    await d.destroy();
  }
  return hashes.sort();
}
