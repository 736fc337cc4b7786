/**
 * Pull-based reader over an async byte stream: asks the source for more only when a read needs it, so a
 * parser built on it never buffers more than the piece it is working on.
 */
export class ByteReader {
  private readonly source: AsyncIterator<Buffer>;
  private pieces: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Buffers at least n bytes if the stream has them; returns how many are buffered. */
  async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
      } else if (next.value.length > 0) {
        this.pieces.push(next.value);
        this.buffered += next.value.length;
      }
    }
    return this.buffered;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.buffered));
  }

  /** Whatever is buffered (up to n), pulling once if nothing is; empty only at the end. */
  async readSome(n: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill(1);
    return this.take(Math.min(n, this.buffered, this.pieces[0]?.length ?? 0));
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const piece = await this.readSome(left);
      if (piece.length === 0) break;
      left -= piece.length;
    }
    return n - left;
  }

  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /** Stops the source early (the consumer does not want the rest). */
  async close(): Promise<void> {
    this.ended = true;
    await this.source.return?.();
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let out: Buffer;
    const first = this.pieces[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pieces.shift();
      else this.pieces[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const piece = this.pieces[0]!;
        const used = Math.min(piece.length, n - filled);
        piece.copy(out, filled, 0, used);
        filled += used;
        if (used === piece.length) this.pieces.shift();
        else this.pieces[0] = piece.subarray(used);
      }
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }
}
