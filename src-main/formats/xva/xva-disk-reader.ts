import { TarEntryParser, type TarConsumer, type TarEntry } from '../tar/tar-entry-parser.js';
import { classifyXvaEntry } from './xva-entry-name.js';
import { XvaStreamVerifier } from './xva-stream-verifier.js';

// The disks inside an (uncompressed) XVA, as data at offsets, for exports and single-disk restores of full
// points. Every byte goes through the stream verifier before this reader sees it, so a chunk whose checksum
// does not match throws (XvaVerifyError, naming the entry and byte) before its data is handed on. Offsets
// follow xapi's rule: a gap of k in a disk's chunk numbers is k left-out all-zero chunks of the first chunk's
// length.

export type XvaEvent = { kind: 'ova'; xml: string } | { kind: 'chunk'; ref: string; offset: number; data: Buffer };

/** Gathers ova.xml and chunk bodies (at most a chunk, 1 MiB, each: the verifier enforces it) into events. */
class XvaEventCollector implements TarConsumer {
  readonly events: XvaEvent[] = [];
  private parts: Buffer[] = [];
  private collecting: 'ova' | { ref: string; seq: number } | undefined;
  /**
   * What was read but is handed on only once the verifier has been past it and its padding, which is when the
   * next header starts; a chunk waits for its checksum entry too.
   */
  private held: { event: XvaEvent | undefined; checked: boolean } | undefined;
  private readonly disks = new Map<string, { lastSeq: number; offset: number; step: number }>();

  entryStart(entry: TarEntry): void {
    this.handOnChecked();
    this.collecting = undefined;
    if (entry.type !== 'file') return;
    const name = classifyXvaEntry(entry.name);
    if (name.kind === 'ova-xml') this.collecting = 'ova';
    else if (name.kind === 'chunk') this.collecting = { ref: name.ref, seq: name.seq };
  }

  entryData(slice: Buffer): void {
    // Kept as views: the source hands over fresh buffers, as the pull reader this replaces relied on too.
    if (this.collecting) this.parts.push(slice);
  }

  entryEnd(): void {
    const collecting = this.collecting;
    const body = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    this.collecting = undefined;
    if (this.held) this.held.checked = true;
    if (collecting === 'ova') {
      this.held = { event: { kind: 'ova', xml: body.toString('utf8') }, checked: true };
    } else if (collecting) {
      const offset = this.place(collecting, body.length);
      // A keepalive moves the disk offset on but holds nothing to hand on.
      const event = body.length > 0 ? ({ kind: 'chunk', ref: collecting.ref, offset, data: body } as const) : undefined;
      this.held = { event, checked: false };
    }
  }

  entriesEnd(): void {
    this.handOnChecked();
  }

  private handOnChecked(): void {
    if (!this.held?.checked) return;
    if (this.held.event) this.events.push(this.held.event);
    this.held = undefined;
  }

  /** Disk offset of chunk `seq` of `ref`, `length` bytes long. */
  private place({ ref, seq }: { ref: string; seq: number }, length: number): number {
    const d = this.disks.get(ref) ?? { lastSeq: -1, offset: 0, step: 0 };
    if (d.step === 0 && length > 0) d.step = length;
    const offset = d.offset + (seq - d.lastSeq - 1) * d.step;
    d.lastSeq = seq;
    d.offset = offset + length;
    this.disks.set(ref, d);
    return offset;
  }
}

export async function* readXvaChunks(source: AsyncIterable<Buffer>): AsyncGenerator<XvaEvent> {
  const verifier = await XvaStreamVerifier.create();
  const collector = new XvaEventCollector();
  const parser = new TarEntryParser(collector);
  for await (const piece of source) {
    // The verifier first: a damaged or cut archive throws here, before any of its data is handed on.
    verifier.update(piece);
    parser.push(piece);
    const events = collector.events.splice(0);
    for (const event of events) yield event;
  }
  verifier.finish();
}
