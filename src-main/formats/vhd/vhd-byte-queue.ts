// Chunks from the network arrive in whatever sizes the socket gives; the VHD reader wants whole structures
// (512-byte footer, 2 MiB block). This queue holds the pieces without copying until a structure is complete,
// then copies it out once.

export class VhdByteQueue {
  private pieces: Buffer[] = [];
  /** Bytes of pieces[0] already taken. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pieces.push(chunk);
    this.size += chunk.length;
  }

  /** Removes and returns the next n bytes (n ≤ length); a fresh buffer the caller may keep. */
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    this.consume(n, out);
    return out;
  }

  /** Discards the next n bytes (n ≤ length). */
  drop(n: number): void {
    this.consume(n, undefined);
  }

  private consume(n: number, out: Buffer | undefined): void {
    if (n > this.size) throw new RangeError(`byte queue holds ${this.size} bytes, ${n} asked`);
    let done = 0;
    while (done < n) {
      const piece = this.pieces[0]!;
      const take = Math.min(piece.length - this.head, n - done);
      if (out) piece.copy(out, done, this.head, this.head + take);
      done += take;
      this.head += take;
      if (this.head === piece.length) {
        this.pieces.shift();
        this.head = 0;
      }
    }
    this.size -= n;
  }
}
