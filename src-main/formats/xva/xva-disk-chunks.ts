import { chunkEntryName } from './xva-entry-name.js';
import { XvaVerifyError } from './xva-verify-error.js';

// The chunk rules of each disk of an XVA: numbers going up, a gap being left-out all-zero chunks, every chunk
// as long as the disk's first except the last, none over xapi's chunk size. Also what a summary reports.

export interface XvaDiskSummary {
  /** The VDI's id in ova.xml, e.g. "Ref:3". */
  ref: string;
  /** Data chunks (keepalives, which carry no data, not included). */
  chunks: number;
  /** Zero-length chunks the host sent to keep the connection alive. */
  keepalives: number;
  /** Sum of the chunk lengths. */
  dataBytes: number;
  /** Disk offset after the last chunk, counting the all-zero chunks the host left out. */
  lastOffset: number;
}

/** xapi's chunk size, which is also the largest chunk accepted. */
export const XVA_CHUNK_SIZE = 1024 * 1024;

interface DiskState {
  ref: string;
  chunks: number;
  keepalives: number;
  dataBytes: number;
  lastSeq: number;
  /** Disk offset after the last chunk. */
  end: number;
  /** Length of the disk's first data chunk: the step of the chunk counter. */
  chunkSize: number | undefined;
  /** A chunk shorter than chunkSize: only the last may be, so no data chunk may follow it. */
  shortChunk: string | undefined;
}

export class XvaDiskChunks {
  private readonly disks = new Map<string, DiskState>();

  get count(): number {
    return this.disks.size;
  }

  /** In the order the disks first appear. */
  summaries(): XvaDiskSummary[] {
    return [...this.disks.values()].map((d) => ({
      ref: d.ref,
      chunks: d.chunks,
      keepalives: d.keepalives,
      dataBytes: d.dataBytes,
      lastOffset: d.end,
    }));
  }

  /** Chunk `seq` of disk `ref`, `size` bytes, whose header is at byte `at`: throws if it breaks a rule. */
  accept(name: string, ref: string, seq: number, size: number, at: number): void {
    if (size > XVA_CHUNK_SIZE) {
      throw new XvaVerifyError(
        'chunk-size',
        `Chunk ${name} at byte ${at} claims ${size} bytes; XVA chunks are at most ${XVA_CHUNK_SIZE} bytes, so its header is corrupt.`,
        { offset: at, entry: name },
      );
    }
    const disk = this.disk(ref);
    if (seq <= disk.lastSeq) {
      throw new XvaVerifyError(
        'chunk-order',
        `Chunk ${name} at byte ${at} comes after chunk ${chunkEntryName(ref, disk.lastSeq)}: chunk numbers must go up, so the stream is out of order or garbled.`,
        { offset: at, entry: name },
      );
    }
    // Every number skipped is an all-zero chunk the host left out; a keepalive takes a number but holds nothing.
    const skipped = seq - disk.lastSeq - 1;
    if (size > 0) {
      if (disk.shortChunk !== undefined) {
        throw new XvaVerifyError(
          'chunk-size',
          `Chunk ${name} at byte ${at} follows the short chunk ${disk.shortChunk}: only a disk's last chunk may be shorter than ${disk.chunkSize} bytes.`,
          { offset: at, entry: name },
        );
      }
      const chunkSize = (disk.chunkSize ??= size);
      if (size > chunkSize) {
        throw new XvaVerifyError(
          'chunk-size',
          `Chunk ${name} at byte ${at} holds ${size} bytes, more than the ${chunkSize} bytes of the disk's first chunk.`,
          { offset: at, entry: name },
        );
      }
      if (size < chunkSize) disk.shortChunk = name;
      disk.end += skipped * chunkSize + size;
      disk.chunks++;
      disk.dataBytes += size;
    } else {
      disk.end += skipped * (disk.chunkSize ?? XVA_CHUNK_SIZE);
      disk.keepalives++;
    }
    disk.lastSeq = seq;
  }

  private disk(ref: string): DiskState {
    let disk = this.disks.get(ref);
    if (!disk) {
      disk = {
        ref,
        chunks: 0,
        keepalives: 0,
        dataBytes: 0,
        lastSeq: -1,
        end: 0,
        chunkSize: undefined,
        shortChunk: undefined,
      };
      this.disks.set(ref, disk);
    }
    return disk;
  }
}
