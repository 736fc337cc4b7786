import type { RandomAccessFile } from '../../core/random-access-file.js';
import { VhdDigestCollector } from './vhd-block-digests.js';
import { VhdFormatError } from './vhd-errors.js';
import { VhdFileWriter, type VhdFileSummary } from './vhd-file-writer.js';
import { readVhdStream } from './vhd-stream-reader.js';
import { DiskType, type VhdFooter, type VhdHeader } from './vhd-structures.js';

// The incremental-backup data path for one disk: the host's /export_raw_vdi?format=vhd body, checked by the
// stream reader, becomes a VHD file of the repository, one block in memory at a time. The host's footer
// fields (uuid, creator, time stamp) are kept; the header is rebuilt so a differencing file names its parent
// by its file name in the repository, with real parent locators (the host streams that sector as zeros).

export interface VhdStreamToFileOptions {
  /** Names the stream in errors. */
  source?: string;
  /** Differencing only: the parent's file name relative to the new file (default: the name the host recorded). */
  parentName?: string;
  /** Differencing only: the parent's footer uuid the file must link to; the stream's is checked against it. */
  expectedParentUuid?: string;
  /** Write into this file (a remote's new file, under its temp name) instead of creating `target`. */
  file?: RandomAccessFile;
  /** Hears the stream's length as soon as its block table tells it: the progress of the copy has a total. */
  onLength?: (bytes: number) => void;
}

export interface VhdStreamToFileResult extends VhdFileSummary {
  footer: VhdFooter;
  header: VhdHeader;
  streamBytes: number;
  /** Block and metadata digests of the file as written, for its `.checksum.json` (see vhd-block-digests.ts). */
  digests: VhdDigestCollector;
  /** The file's bytes before the first block, as written. */
  metadata: Buffer;
}

export async function writeVhdStreamToFile(
  stream: AsyncIterable<Buffer | Uint8Array>,
  target: string,
  opts: VhdStreamToFileOptions = {},
): Promise<VhdStreamToFileResult> {
  let writer: VhdFileWriter | undefined;
  let digests: VhdDigestCollector | undefined;
  let footer: VhdFooter | undefined;
  let header: VhdHeader | undefined;
  try {
    for await (const event of readVhdStream(stream, { source: opts.source ?? target })) {
      if (event.kind === 'header') {
        footer = event.footer;
        header = event.header;
        opts.onLength?.(event.expectedBytes);
        const differencing = footer.diskType === DiskType.Differencing;
        if (differencing && opts.expectedParentUuid !== undefined && header.parentUuid !== opts.expectedParentUuid) {
          throw new VhdFormatError(
            'header',
            `differencing stream has parent ${header.parentUuid}, expected ${opts.expectedParentUuid}`,
            {
              offset: footer.dataOffset,
              source: opts.source ?? target,
            },
          );
        }
        const writerOpts = {
          currentSize: footer.currentSize,
          originalSize: footer.originalSize,
          uuid: footer.uuid,
          blockSize: header.blockSize,
          timestamp: footer.timestamp,
          creatorApp: footer.creatorApp,
          creatorVersion: footer.creatorVersion,
          creatorHostOs: footer.creatorHostOs,
          ...(differencing
            ? {
                parent: {
                  uuid: header.parentUuid,
                  name: opts.parentName ?? header.parentName,
                  timestamp: header.parentTimestamp,
                },
              }
            : {}),
        };
        digests = await VhdDigestCollector.create(header.blockSize, Math.ceil(footer.currentSize / header.blockSize));
        writer = opts.file
          ? await VhdFileWriter.onFile(opts.file, writerOpts)
          : await VhdFileWriter.create(target, writerOpts);
      } else if (event.kind === 'block') {
        await writer!.writeBlock(event.index, event.data, event.bitmap);
        digests!.addBlock(event.index, event.bitmap, event.data);
      } else {
        const summary = await writer!.finish();
        return {
          ...summary,
          footer: footer!,
          header: header!,
          streamBytes: event.bytes,
          digests: digests!,
          metadata: writer!.metadata(),
        };
      }
    }
    // readVhdStream throws on an incomplete stream, so this is only reached by a reader bug.
    throw new Error('VHD stream ended without its trailing footer');
  } catch (err) {
    await writer?.abort();
    throw err;
  }
}
