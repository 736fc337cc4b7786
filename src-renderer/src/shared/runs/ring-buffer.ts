/**
 * A fixed-size, column-oriented ring buffer of numbers for live graphs: pushing never allocates, so a run that
 * lasts all night holds the same memory as one that lasts a minute. `columns()` gives the points oldest first
 * as views over reused arrays, the shape uPlot draws from.
 */
export class RingBuffer {
  private readonly data: Float64Array[];
  private readonly out: Float64Array[];
  private start = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    if (!Number.isInteger(width) || width < 1) throw new RangeError('width must be a positive integer');
    this.data = Array.from({ length: width }, () => new Float64Array(capacity));
    this.out = Array.from({ length: width }, () => new Float64Array(capacity));
  }

  get length(): number {
    return this.count;
  }

  push(values: ArrayLike<number>): void {
    const at = (this.start + this.count) % this.capacity;
    this.write(at, values);
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Overwrites the newest point (several samples landing in one graph step). */
  replaceLast(values: ArrayLike<number>): void {
    if (this.count === 0) return this.push(values);
    this.write((this.start + this.count - 1) % this.capacity, values);
  }

  /** Column `c` of point `i` (0 = oldest). */
  get(i: number, c: number): number {
    if (i < 0 || i >= this.count) throw new RangeError(`no point ${i}`);
    return this.data[c]![(this.start + i) % this.capacity]!;
  }

  last(c: number): number | undefined {
    return this.count === 0 ? undefined : this.get(this.count - 1, c);
  }

  /** Every column, oldest first. The arrays are reused by the next call: draw from them, do not keep them. */
  columns(): Float64Array[] {
    const n = this.count;
    const head = Math.min(n, this.capacity - this.start);
    return this.data.map((col, c) => {
      const o = this.out[c]!;
      o.set(col.subarray(this.start, this.start + head), 0);
      if (head < n) o.set(col.subarray(0, n - head), head);
      return o.subarray(0, n);
    });
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
  }

  private write(at: number, values: ArrayLike<number>): void {
    for (let c = 0; c < this.width; c++) this.data[c]![at] = values[c] ?? Number.NaN;
  }
}
