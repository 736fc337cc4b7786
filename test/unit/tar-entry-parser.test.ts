import { randomBytes } from 'node:crypto';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  TarEntryParser,
  TarFormatError,
  type TarConsumer,
  type TarDamage,
} from '../../src-main/formats/tar/tar-entry-parser.js';
import { TAR_BLOCK } from '../../src-main/formats/tar/tar-v7-header.js';
import { tarEnd, tarEntry, tarFileHeader } from '../../src-main/formats/tar/tar-writer.js';

// The parser is fed the same archives in one piece, byte by byte and in random pieces: every header, body
// and padding boundary lands inside a piece somewhere, and what comes out must not depend on where.

interface Seen {
  name: string;
  size: number;
  type: string;
  offset: number;
  data: Buffer;
  ended: boolean;
}

function recorder() {
  const entries: Seen[] = [];
  const marks: string[] = [];
  const views: boolean[] = [];
  let pushed: Buffer | undefined;
  const consumer: TarConsumer = {
    entryStart: (e) =>
      entries.push({ name: e.name, size: e.size, type: e.type, offset: e.offset, data: Buffer.alloc(0), ended: false }),
    entryData: (slice) => {
      views.push(pushed !== undefined && slice.buffer === pushed.buffer);
      const last = entries.at(-1)!;
      last.data = Buffer.concat([last.data, slice]);
    },
    entryEnd: () => {
      entries.at(-1)!.ended = true;
    },
    entriesEnd: (at) => marks.push(`entries end ${at}`),
    archiveEnd: (at) => marks.push(`archive end ${at}`),
  };
  const parser = new TarEntryParser(consumer);
  const push = (piece: Buffer) => {
    pushed = piece;
    parser.push(piece);
  };
  return { parser, push, entries, marks, views };
}

function pieces(bytes: Buffer, how: 'whole' | 'bytes' | 'random'): Buffer[] {
  if (how === 'whole') return [bytes];
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = how === 'bytes' ? 1 : 1 + Math.floor(Math.random() * 1500);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Runs the whole archive through a parser; returns what it saw, or the error it threw. */
function parse(bytes: Buffer, how: 'whole' | 'bytes' | 'random') {
  const r = recorder();
  try {
    for (const piece of pieces(bytes, how)) r.push(piece);
    r.parser.end();
    return { ...r, error: undefined };
  } catch (err) {
    if (!(err instanceof TarFormatError)) throw err;
    return { ...r, error: err };
  }
}

function expectDamage(bytes: Buffer, kind: TarDamage['kind'], offset: number): TarFormatError {
  for (const how of ['whole', 'bytes', 'random'] as const) {
    const { error } = parse(bytes, how);
    expect(error, how).toBeInstanceOf(TarFormatError);
    expect({ kind: error!.damage.kind, offset: error!.offset }, how).toEqual({ kind, offset });
    expect(error!.message).toContain(`byte ${offset}`);
  }
  return parse(bytes, 'whole').error!;
}

/** A header of another type, checksum recomputed: for GNU long names. */
function typedHeader(name: string, size: number, typeflag: string): Buffer {
  const h = tarFileHeader(name, size);
  h.write(typeflag, 156, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function padded(body: Buffer): Buffer {
  return Buffer.concat([body, Buffer.alloc((TAR_BLOCK - (body.length % TAR_BLOCK)) % TAR_BLOCK)]);
}

const bodies = [randomBytes(1000), Buffer.alloc(0), randomBytes(TAR_BLOCK), randomBytes(3 * TAR_BLOCK + 7)];
const archive = Buffer.concat([...bodies.flatMap((b, i) => tarEntry(`entry-${i}`, b)), tarEnd()]);

async function tarStream(entries: Array<{ name: string; body: Buffer }>): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name }, e.body);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const part of pack) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('TarEntryParser', () => {
  it('reads the same entries whatever the pieces, byte by byte included', () => {
    for (const how of ['whole', 'bytes', 'random'] as const) {
      const { entries, marks, error } = parse(archive, how);
      expect(error).toBeUndefined();
      expect(entries.map((e) => [e.name, e.size, e.type, e.ended])).toEqual(
        bodies.map((b, i) => [`entry-${i}`, b.length, 'file', true]),
      );
      entries.forEach((e, i) => expect(e.data.equals(bodies[i]!), `${how} ${i}`).toBe(true));
      let offset = 0;
      entries.forEach((e) => {
        expect(e.offset).toBe(offset);
        offset += TAR_BLOCK + padded(e.data).length;
      });
      expect(marks).toEqual([`entries end ${offset}`, `archive end ${offset + 2 * TAR_BLOCK}`]);
    }
  });

  it('hands data on as views of the pushed pieces, not copies', () => {
    const r = recorder();
    r.push(archive);
    expect(r.views.length).toBeGreaterThan(0);
    expect(r.views.every(Boolean)).toBe(true);
  });

  it('accepts a record of zeros after the end blocks and nothing beyond it', () => {
    const record = 20 * TAR_BLOCK;
    const end = Math.ceil(archive.length / record) * record;
    expect(parse(Buffer.concat([archive, Buffer.alloc(end - archive.length)]), 'random').error).toBeUndefined();
    expectDamage(Buffer.concat([archive, Buffer.alloc(end - archive.length + 1)]), 'trailing-zeros', end);
    expectDamage(Buffer.concat([archive, Buffer.from([0, 0, 7])]), 'trailing-data', archive.length + 2);
  });

  it('folds pax long names into the entry they describe', async () => {
    const longName = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const body = randomBytes(700);
    const bytes = await tarStream([
      { name: longName, body },
      { name: 'short', body: Buffer.from('x') },
    ]);
    for (const how of ['whole', 'bytes', 'random'] as const) {
      const { entries, error } = parse(bytes, how);
      expect(error).toBeUndefined();
      expect(entries.map((e) => e.name)).toEqual([longName, 'short']);
      expect(entries[0]!.data.equals(body)).toBe(true);
      // The pax header is read here, not handed on: the entry starts at its own header, after the pax one.
      expect(entries[0]!.offset).toBeGreaterThan(0);
    }
  });

  it('folds GNU long names into the entry they describe', () => {
    const longName = 'n'.repeat(300);
    const nameBody = Buffer.from(`${longName}\0`);
    const body = randomBytes(10);
    const bytes = Buffer.concat([
      typedHeader('././@LongLink', nameBody.length, 'L'),
      padded(nameBody),
      ...tarEntry('cut-short-name', body),
      tarEnd(),
    ]);
    for (const how of ['whole', 'bytes', 'random'] as const) {
      const { entries, error } = parse(bytes, how);
      expect(error).toBeUndefined();
      expect(entries.map((e) => [e.name, e.offset])).toEqual([[longName, TAR_BLOCK + padded(nameBody).length]]);
      expect(entries[0]!.data.equals(body)).toBe(true);
    }
  });

  it('says where the stream was cut, at every kind of place', () => {
    const second = TAR_BLOCK + padded(bodies[0]!).length; // header of entry-1
    const cases: Array<[number, TarDamage['kind']]> = [
      [0, 'truncated-empty'],
      [100, 'truncated-in-header'],
      [TAR_BLOCK + 10, 'truncated-in-entry'],
      [TAR_BLOCK + 1000, 'truncated-in-padding'],
      [second, 'truncated-between-entries'],
      [archive.length - TAR_BLOCK, 'truncated-between-entries'],
    ];
    for (const [cut, kind] of cases) {
      const error = expectDamage(archive.subarray(0, cut), kind, cut);
      if (kind === 'truncated-in-header') expect(error.damage).toEqual({ kind, headerOffset: 0 });
      if (kind === 'truncated-in-entry') expect(error.damage).toMatchObject({ entry: 'entry-0', missing: 990 });
    }
    expect(parse(archive.subarray(0, archive.length - TAR_BLOCK), 'whole').error!.damage).toEqual({
      kind: 'truncated-between-entries',
      zeroBlocks: 1,
    });
  });

  it('rejects a header whose checksum is wrong, at that header', () => {
    const second = TAR_BLOCK + padded(bodies[0]!).length;
    const bytes = Buffer.from(archive);
    bytes[second + 60] = bytes[second + 60]! ^ 0x01; // inside the name field
    const error = expectDamage(bytes, 'header', second);
    expect(error.damage).toMatchObject({ claimedName: expect.stringContaining('entry-1') });
    expect(error.message).toContain('checksum');
  });

  it('rejects non-zero padding, a lone zero block and an oversized extended header, with their offsets', () => {
    const pad = Buffer.from(archive);
    pad[TAR_BLOCK + 1003] = 1;
    expectDamage(pad, 'padding', TAR_BLOCK + 1003);

    const second = TAR_BLOCK + padded(bodies[0]!).length;
    const lone = Buffer.concat([archive.subarray(0, second), Buffer.alloc(TAR_BLOCK), archive.subarray(second)]);
    expectDamage(lone, 'lone-zero-block', second);

    const huge = Buffer.concat([typedHeader('PaxHeader', 1024 * 1024, 'x'), Buffer.alloc(1024 * 1024), tarEnd()]);
    expectDamage(huge, 'extended-header-size', 0);
  });

  it('rejects an extended header with no entry after it', () => {
    const nameBody = Buffer.from('some-name\0');
    const bytes = Buffer.concat([typedHeader('././@LongLink', nameBody.length, 'L'), padded(nameBody), tarEnd()]);
    const error = expectDamage(bytes, 'dangling-extended-header', 0);
    expect(error.damage).toEqual({ kind: 'dangling-extended-header', archiveEnd: 2 * TAR_BLOCK });
    expectDamage(bytes.subarray(0, 2 * TAR_BLOCK), 'truncated-after-extended-header', 2 * TAR_BLOCK);
  });
});
