import type { VhdDamageKind } from '../../errors/damage.js';
import { FormatError } from '../format-error.js';

// Two kinds of VHD failure. A VhdFormatError is damage inside one file or stream, located to the byte so a
// failed backup or restore can say where it is. A VhdChainError is a problem between files (a child that does
// not belong to its parent); the repository, which knows these files are a backup chain, says what to do
// about it (repository/vhd-chain-problem.ts).

/** What is wrong, for callers that react differently (a truncated download is retried, a bad checksum is not). */
export type VhdDamage = VhdDamageKind;

export class VhdFormatError extends FormatError<VhdDamage> {
  /** The file or stream, as the caller named it (a path, "host stream of VDI …"), when known. */
  readonly source: string | undefined;

  constructor(damage: VhdDamage, message: string, where: { offset: number; source?: string | undefined }) {
    super(
      damage,
      where.source === undefined
        ? `${message} (at byte ${where.offset})`
        : `${where.source}: ${message} (at byte ${where.offset})`,
      where.offset,
    );
    this.name = 'VhdFormatError';
    this.source = where.source;
  }
}

/**
 * Why a chain's links do not hold: 'broken' (a child that does not belong to its parent, a missing parent) or
 * 'unsupported' (valid links Sluice cannot read, e.g. block sizes that differ along the chain).
 */
export type VhdChainProblem = 'broken' | 'unsupported';

/** A chain of VHD files whose links do not hold. */
export class VhdChainError extends Error {
  /** The file whose link to its parent is wrong. */
  readonly file: string;
  readonly problem: VhdChainProblem;

  constructor(file: string, message: string, problem: VhdChainProblem = 'broken') {
    super(message);
    this.name = 'VhdChainError';
    this.file = file;
    this.problem = problem;
  }
}
