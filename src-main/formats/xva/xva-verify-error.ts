import type { XvaDamageKind } from '../../errors/damage.js';
import { FormatError } from '../format-error.js';

// The one error the XVA verifier throws. It says what is wrong, in which entry and at which byte of the
// stream, so a failed backup or `verify` can point at the damage instead of just failing.

/** Kinds of damage, for callers that react differently (e.g. retry a truncated download, not a bad checksum). */
export type XvaDamage = XvaDamageKind;

/** Its offset is the byte of the stream: the start of the entry or header at fault, or where the stream ended. */
export class XvaVerifyError extends FormatError<XvaDamage> {
  /** The entry at fault, e.g. "Ref:3/00000012", when there is one. */
  readonly entry?: string;

  constructor(damage: XvaDamage, message: string, where: { offset: number; entry?: string }) {
    super(damage, message, where.offset);
    this.name = 'XvaVerifyError';
    if (where.entry !== undefined) this.entry = where.entry;
  }
}
