import { parseGnuLongName, parsePaxHeader, type HeaderOverride } from '../tar/tar-extended-header.js';
import { isZeroBlock, parseTarHeader, TAR_BLOCK, tarPadding } from '../tar/tar-v7-header.js';
import { classifyXvaEntry } from './xva-entry-name.js';
import { XvaStreamVerifier } from './xva-stream-verifier.js';

// The disks inside an (uncompressed) XVA, as data at offsets, for exports and single-disk restores of full
// points. Every byte also goes through the stream verifier first, so a chunk whose checksum does not match
// throws (XvaVerifyError, naming the entry and byte) before its data is handed on. Offsets follow xapi's rule:
// a gap of k in a disk's chunk numbers is k left-out all-zero chunks of the first chunk's length.

export type XvaEvent = { kind: 'ova'; xml: string } | { kind: 'chunk'; ref: string; offset: number; data: Buffer };

class PullReader {
  private pending: Buffer[] = [];
  private length = 0;
  private done = false;
  constructor(
    private readonly it: AsyncIterator<Buffer>,
    private readonly onBytes: (b: Buffer) => void,
  ) {}

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      this.onBytes(r.value);
      this.pending.push(r.value);
      this.length += r.value.length;
    }
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.pending = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** Reads (and verifies) whatever is left. */
  async drain(): Promise<void> {
    while (!(await this.it.next().then((r) => (r.done ? true : (this.onBytes(r.value), false))))) {
      // keep reading
    }
  }
}

export async function* readXvaChunks(source: AsyncIterable<Buffer>): AsyncGenerator<XvaEvent> {
  const verifier = await XvaStreamVerifier.create();
  const reader = new PullReader(source[Symbol.asyncIterator](), (b) => verifier.update(b));
  const disks = new Map<string, { lastSeq: number; offset: number; step: number }>();
  let override: HeaderOverride = {};
  for (;;) {
    const block = await reader.read(TAR_BLOCK);
    // The verifier has seen the same bytes: a damaged or cut archive has thrown already, or throws at finish.
    if (block.length < TAR_BLOCK || isZeroBlock(block)) break;
    const header = parseTarHeader(block);
    const size = override.size ?? header.size;
    const name = override.name ?? header.name;
    override = {};
    const body = await reader.read(size);
    await reader.read(tarPadding(size));
    if (header.type === 'pax-header') {
      override = parsePaxHeader(body);
      continue;
    }
    if (header.type === 'gnu-long-name') {
      override = parseGnuLongName(body);
      continue;
    }
    if (header.type !== 'file') continue;
    const entry = classifyXvaEntry(name);
    if (entry.kind === 'ova-xml') yield { kind: 'ova', xml: body.toString('utf8') };
    else if (entry.kind === 'chunk') {
      const d = disks.get(entry.ref) ?? { lastSeq: -1, offset: 0, step: 0 };
      if (d.step === 0 && body.length > 0) d.step = body.length;
      const offset = d.offset + (entry.seq - d.lastSeq - 1) * d.step;
      d.lastSeq = entry.seq;
      d.offset = offset + body.length;
      disks.set(entry.ref, d);
      // Handed on only once its checksum entry (the next entry) has been verified.
      const checksumHeader = await reader.read(TAR_BLOCK);
      if (checksumHeader.length === TAR_BLOCK && !isZeroBlock(checksumHeader)) {
        const h = parseTarHeader(checksumHeader);
        await reader.read(h.size + tarPadding(h.size));
      }
      if (body.length > 0) yield { kind: 'chunk', ref: entry.ref, offset, data: body };
    }
  }
  await reader.drain();
  verifier.finish();
}
