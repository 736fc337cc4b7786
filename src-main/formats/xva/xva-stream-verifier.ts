import xxhash from 'xxhash-wasm';
import { TarEntryParser, TarFormatError } from '../tar/tar-entry-parser.js';
import { XvaContentRules } from './xva-content-rules.js';
import type { XvaDiskSummary } from './xva-disk-chunks.js';
import type { ChecksumAlgorithm } from './xva-entry-name.js';
import { xvaErrorFromTar } from './xva-tar-damage.js';
import { XvaVerifyError } from './xva-verify-error.js';

export { XvaVerifyError, type XvaDamage } from './xva-verify-error.js';
export type { ChecksumAlgorithm } from './xva-entry-name.js';
export type { XvaDiskSummary } from './xva-disk-chunks.js';

// Checks an XVA (the uncompressed tar of GET /export) as it streams past, without holding it: tar framing,
// ova.xml first, each disk chunk followed by its checksum entry and matching it, chunk numbers going up, and
// the end-of-archive blocks. A backup tees every byte through update(); `verify` re-reads a stored file.

export interface XvaSummary {
  ovaXml: string;
  /** In the order they appear in the stream. */
  disks: XvaDiskSummary[];
  totalBytes: number;
  /** Which checksum entries the host wrote; undefined when the XVA has no chunks. */
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  /** Entries other than ova.xml, chunks and checksums (directories, stray files), skipped unchecked. */
  ignoredEntries: number;
  /** The first few of their names, for a report. */
  ignoredEntryNames: string[];
}

export interface XvaStreamProgress {
  bytesSeen: number;
  ovaXml: string | undefined;
  /** In the order they appear in the stream. */
  disks: XvaDiskSummary[];
}

export class XvaStreamVerifier {
  private readonly rules: XvaContentRules;
  private readonly parser: TarEntryParser;
  private failure: XvaVerifyError | undefined;

  private constructor(xxh: Awaited<ReturnType<typeof xxhash>>) {
    this.rules = new XvaContentRules(xxh);
    this.parser = new TarEntryParser(this.rules);
  }

  static async create(): Promise<XvaStreamVerifier> {
    return new XvaStreamVerifier(await xxhash());
  }

  /** Bytes of the stream checked so far (a piece that turned out damaged is not counted). */
  get bytesSeen(): number {
    return this.parser.bytesPushed;
  }

  /** What the stream has shown so far: ova.xml once complete, and each disk's chunks as they passed. */
  progress(): XvaStreamProgress {
    return { bytesSeen: this.parser.bytesPushed, ovaXml: this.rules.ovaXml, disks: this.rules.disks.summaries() };
  }

  /** Checks the next piece of the stream; throws XvaVerifyError at the first damage, and again on every later call. */
  update(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    try {
      this.parser.push(chunk);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Declares the stream complete: throws XvaVerifyError if it ended before the archive did. */
  finish(): XvaSummary {
    if (this.failure) throw this.failure;
    try {
      this.checkComplete();
    } catch (err) {
      throw this.fail(err);
    }
    const rules = this.rules;
    return {
      ovaXml: rules.ovaXml!,
      disks: rules.disks.summaries(),
      totalBytes: this.parser.bytesPushed,
      checksumAlgorithm: rules.algorithm,
      ignoredEntries: rules.ignoredEntries,
      ignoredEntryNames: [...rules.ignoredEntryNames],
    };
  }

  /** Every later call throws the same error. */
  private fail(err: unknown): unknown {
    const error = err instanceof TarFormatError ? xvaErrorFromTar(err) : err;
    if (error instanceof XvaVerifyError) this.failure = error;
    return error;
  }

  private checkComplete(): void {
    try {
      this.parser.end();
    } catch (err) {
      if (!(err instanceof TarFormatError)) throw err;
      const kind = err.damage.kind;
      // Cut on an entry boundary: a chunk owed its checksum is the more telling news than the missing tar end.
      if (kind === 'truncated-between-entries' || kind === 'truncated-after-extended-header')
        this.rules.checkStreamEnd(err.offset, kind === 'truncated-between-entries');
      throw err;
    }
    if (this.rules.ovaXml === undefined) {
      throw new XvaVerifyError('ova-xml', 'The XVA is an empty archive: it has no ova.xml, so it is not an export.', {
        offset: 0,
      });
    }
  }
}
