import type { TarDamage, TarFormatError } from '../tar/tar-entry-parser.js';
import { classifyXvaEntry } from './xva-entry-name.js';
import { XvaVerifyError } from './xva-verify-error.js';

// Damage to the tar framing of an XVA, told in the words of an export: what a user reads in a failed backup
// or `verify` names the XVA, its entries and what probably happened to the stream.

const EXTENDED_HEADER_WHAT = { pax: 'a pax extended header', gnu: 'a GNU long name' } as const;

export function xvaErrorFromTar(err: TarFormatError): XvaVerifyError {
  const d = err.damage;
  const at = err.offset;
  switch (d.kind) {
    case 'header': {
      // The name is worth reporting only when it still reads as an XVA entry; garbage names only add noise.
      const named = classifyXvaEntry(d.claimedName).kind !== 'other';
      const claim = named ? ` (it claims to be "${d.claimedName}")` : '';
      return new XvaVerifyError(
        'tar-header',
        `The tar header at byte ${at} is damaged${claim}: ${d.reason}. The stream is corrupt from there on.`,
        { offset: at, ...(named ? { entry: d.claimedName } : {}) },
      );
    }
    case 'lone-zero-block':
      return new XvaVerifyError(
        'tar-header',
        `The XVA has a lone zero block at byte ${at} with more entries after it at byte ${d.nextHeader}: an archive ends with two zero blocks, so the data between was lost or overwritten.`,
        { offset: at },
      );
    case 'padding':
      return new XvaVerifyError(
        'padding',
        `The padding after entry ${d.entry} has a non-zero byte at byte ${at}: the stream is corrupt or misaligned there.`,
        { offset: at, entry: d.entry },
      );
    case 'extended-header':
      return new XvaVerifyError('extended-header', `The extended header at byte ${at} is corrupt: ${d.reason}.`, {
        offset: at,
      });
    case 'extended-header-size':
      return new XvaVerifyError(
        'extended-header',
        `The entry at byte ${at}, ${EXTENDED_HEADER_WHAT[d.format]}, claims ${d.size} bytes, far more than it can hold: its header is corrupt.`,
        { offset: at, entry: d.entry },
      );
    case 'dangling-extended-header':
      return new XvaVerifyError(
        'extended-header',
        `The extended header at byte ${at} is not followed by the entry it describes: the archive ends at byte ${d.archiveEnd}.`,
        { offset: at },
      );
    case 'trailing-data':
      return new XvaVerifyError(
        'trailing-data',
        `The XVA has data after its end-of-archive blocks, at byte ${at}: this is not a single complete XVA.`,
        { offset: at },
      );
    case 'trailing-zeros':
      return new XvaVerifyError(
        'trailing-data',
        `The XVA goes on with zero bytes past byte ${d.recordEnd}, more than the padding of a tar record after its end-of-archive blocks.`,
        { offset: at },
      );
    default:
      return truncated(d, at);
  }
}

type Truncation = Extract<TarDamage, { kind: `truncated-${string}` }>;

function truncated(d: Truncation, at: number): XvaVerifyError {
  switch (d.kind) {
    case 'truncated-empty':
      return new XvaVerifyError('truncated', 'The XVA stream is empty: the export sent nothing.', { offset: 0 });
    case 'truncated-in-entry':
      return new XvaVerifyError(
        'truncated',
        `The XVA stream ended at byte ${at}, inside entry ${d.entry} (which starts at byte ${d.entryOffset}) with ${d.missing} of its bytes missing: the export was cut short.`,
        { offset: at, entry: d.entry },
      );
    case 'truncated-in-padding':
      return new XvaVerifyError(
        'truncated',
        `The XVA stream ended at byte ${at}, in the padding after entry ${d.entry}: the export was cut short.`,
        { offset: at, entry: d.entry },
      );
    case 'truncated-in-header':
      return new XvaVerifyError(
        'truncated',
        `The XVA stream ended at byte ${at}, inside the tar header that starts at byte ${d.headerOffset}: the export was cut short.`,
        { offset: at },
      );
    case 'truncated-after-extended-header':
      return new XvaVerifyError(
        'truncated',
        `The XVA stream ended at byte ${at}, after an extended header but before the entry it describes.`,
        { offset: at },
      );
    case 'truncated-between-entries':
      return new XvaVerifyError(
        'truncated',
        d.zeroBlocks === 0
          ? `The XVA stream ended at byte ${at} without the two zero blocks that end an archive: the export was cut short between entries.`
          : `The XVA stream ended at byte ${at} after only one of the two zero blocks that end an archive: the export was cut short.`,
        { offset: at },
      );
  }
}
