import { CLUSTER_SIZE, type VirtualDisk } from '../disk/virtual-disk.js';

// VDI.physical_utilisation as the storage manager reports it: the bytes the VDI's VHD takes on its SR, which is
// not the data the guest wrote. File SRs (ext, nfs) keep each VDI as a VHD file that grows by 2 MiB blocks;
// the LVM SR (thick) inflates a writable VDI's logical volume to the whole virtual size, and deflates a
// snapshot to its data (sm's FileSR getSizePhys; LVHDSR with vhdutil's overheads). A backup tool that takes
// this for the size of an export is off by the SR's format, and that is what the simulator must show.

const SECTOR = 512;
const VHD_BLOCK = 2 * 1024 * 1024;
const CLUSTERS_PER_BLOCK = VHD_BLOCK / CLUSTER_SIZE;
/** LVM's extent: a logical volume's size is a multiple of it. */
const LVM_EXTENT = 4 * 1024 * 1024;

const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

/** A dynamic VHD's file: footer copy, header, BAT, each block with its sector bitmap, footer. */
function vhdFileBytes(virtualSize: number, blocks: number): number {
  const bat = roundUp(4 * Math.ceil(virtualSize / VHD_BLOCK), SECTOR);
  return SECTOR + 2 * SECTOR + bat + blocks * (SECTOR + VHD_BLOCK) + SECTOR;
}

/** The 2 MiB blocks holding any data: the ones a VHD of the disk allocates. */
function allocatedBlocks(disk: VirtualDisk): number {
  let blocks = 0;
  for (let first = 0; first < disk.clusterCount; first += CLUSTERS_PER_BLOCK) {
    const last = Math.min(disk.clusterCount, first + CLUSTERS_PER_BLOCK);
    for (let c = first; c < last; c++) {
      if (disk.isClusterAllocated(c)) {
        blocks++;
        break;
      }
    }
  }
  return blocks;
}

/**
 * An inflated VHD volume (sm's vhdutil.calcOverheadFull): the whole disk, footers, header, BAT and its bitmap,
 * each block's bitmap padded to 4 KiB, rounded up to LVM's extent.
 */
function inflatedVolumeBytes(virtualSize: number): number {
  const blocks = Math.ceil(virtualSize / VHD_BLOCK);
  const empty = roundUp(roundUp(3 * 1024 + 4 * blocks, SECTOR) + Math.ceil(blocks / 8), 4096);
  return roundUp(blocks * VHD_BLOCK + empty + blocks * 4096, LVM_EXTENT);
}

export function physicalUtilisation(disk: VirtualDisk, srType: string, isSnapshot: boolean): number {
  if (disk.size === 0) return 0;
  if (srType === 'lvm' && !isSnapshot) return inflatedVolumeBytes(disk.size);
  return vhdFileBytes(disk.size, allocatedBlocks(disk));
}
