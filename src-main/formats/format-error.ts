import type { DamageKind } from '../errors/damage.js';

// What formats/ throws: damage found in bytes, located to the byte. A format knows nothing of repositories,
// hosts or what the user should do, so it gives no hint; the layer that knows where the bytes came from turns
// this into a SluiceError with one.

export class FormatError<K extends DamageKind = DamageKind> extends Error {
  /** What is wrong, for callers that react differently (a truncated download is retried, a bad checksum is not). */
  readonly damage: K;
  /** Byte of the file or stream where the damage is (the start of the structure at fault, or where it ended). */
  readonly offset: number;

  constructor(damage: K, message: string, offset: number) {
    super(message);
    this.name = 'FormatError';
    this.damage = damage;
    this.offset = offset;
  }
}
