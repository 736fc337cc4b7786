import type { ChunkCompression, VhdDirectoryStore } from './vhd-directory.js';
import { VhdDirectoryWriter, type VhdDirectorySummary } from './vhd-directory-writer.js';
import { VhdFormatError } from './vhd-errors.js';
import { readVhdStream } from './vhd-stream-reader.js';
import { DiskType, type VhdFooter, type VhdHeader } from './vhd-structures.js';

// The host's VHD export stream (or any VHD file read front to back) stored as a VHD directory, one block
// object per block as it arrives (vhd-directory-writer.ts). The host's footer fields are kept, as for a file;
// a differencing directory names its parent as the caller says (XO: the parent's alias, `<ts>.alias.vhd`).
// On failure every object written is removed before the error goes on.

export interface VhdStreamToDirectoryOptions {
  source?: string;
  /** Differencing only: the parent's name relative to the new one (default: the name the stream recorded). */
  parentName?: string;
  /** Differencing only: the parent's footer uuid the stream must link to. */
  expectedParentUuid?: string;
  compression?: ChunkCompression;
  concurrency?: number;
  onLength?: (bytes: number) => void;
}

export interface VhdStreamToDirectoryResult extends VhdDirectorySummary {
  footer: VhdFooter;
  header: VhdHeader;
  streamBytes: number;
}

export async function writeVhdStreamToDirectory(
  stream: AsyncIterable<Buffer | Uint8Array>,
  store: VhdDirectoryStore,
  opts: VhdStreamToDirectoryOptions = {},
): Promise<VhdStreamToDirectoryResult> {
  const source = opts.source ?? store.label;
  let writer: VhdDirectoryWriter | undefined;
  let footer: VhdFooter | undefined;
  let header: VhdHeader | undefined;
  try {
    for await (const event of readVhdStream(stream, { source })) {
      if (event.kind === 'header') {
        footer = event.footer;
        header = event.header;
        opts.onLength?.(event.expectedBytes);
        const differencing = footer.diskType === DiskType.Differencing;
        if (differencing && opts.expectedParentUuid !== undefined && header.parentUuid !== opts.expectedParentUuid) {
          throw new VhdFormatError(
            'header',
            `differencing stream has parent ${header.parentUuid}, expected ${opts.expectedParentUuid}`,
            { offset: footer.dataOffset, source },
          );
        }
        writer = VhdDirectoryWriter.start(store, {
          currentSize: footer.currentSize,
          originalSize: footer.originalSize,
          uuid: footer.uuid,
          blockSize: header.blockSize,
          timestamp: footer.timestamp,
          creatorApp: footer.creatorApp,
          creatorVersion: footer.creatorVersion,
          creatorHostOs: footer.creatorHostOs,
          ...(opts.compression ? { compression: opts.compression } : {}),
          ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
          ...(differencing
            ? {
                parent: {
                  uuid: header.parentUuid,
                  name: opts.parentName ?? header.parentName,
                  timestamp: header.parentTimestamp,
                },
              }
            : {}),
        });
      } else if (event.kind === 'block') {
        await writer!.writeBlock(event.index, event.data, event.bitmap);
      } else {
        const summary = await writer!.finish();
        return { ...summary, footer: footer!, header: header!, streamBytes: event.bytes };
      }
    }
    throw new Error('VHD stream ended without its trailing footer');
  } catch (err) {
    await writer?.abort().catch(() => undefined);
    throw err;
  }
}
