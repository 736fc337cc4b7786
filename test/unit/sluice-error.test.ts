import { describe, expect, it } from 'vitest';
import { isRetryable } from '../../src-main/backup/retry-policy.js';
import { SluiceError, toIpcError } from '../../src-main/errors/sluice-error.js';
import { isCutStream } from '../../src-main/backup/full-backup.js';
import { FormatError } from '../../src-main/formats/format-error.js';
import { VhdChainError, VhdFormatError } from '../../src-main/formats/vhd/vhd-errors.js';
import { XvaVerifyError } from '../../src-main/formats/xva/xva-verify-error.js';
import { asChainProblem } from '../../src-main/repository/vhd-chain-problem.js';

describe('SluiceError typed fields', () => {
  it('the retry decision reads the typed field, not the context string', () => {
    const stringOnly = new SluiceError('HOST_ERROR', 'x', { context: { retryable: 'true' } });
    expect(isRetryable(stringOnly)).toBe(false);
    const typedFalse = new SluiceError('HOST_ERROR', 'x', { context: { retryable: 'true' }, retryable: false });
    expect(isRetryable(typedFalse)).toBe(false);
    expect(isRetryable(new SluiceError('HOST_ERROR', 'x', { retryable: true }))).toBe(true);
    // Only host errors are retried, whatever the field says.
    expect(isRetryable(new SluiceError('REMOTE_ERROR', 'x', { retryable: true }))).toBe(false);
  });

  it('a cut stream is told by the typed damage kind', () => {
    expect(isCutStream(new SluiceError('HOST_ERROR', 'x', { context: { damage: 'truncated' } }))).toBe(false);
    expect(isCutStream(new SluiceError('HOST_ERROR', 'x', { damage: { kind: 'truncated' } }))).toBe(true);
    expect(isCutStream(new SluiceError('HOST_ERROR', 'x', { damage: { kind: 'chunk-checksum' } }))).toBe(false);
  });

  it('the typed fields still appear in the context and on the wire, as strings', () => {
    const err = new SluiceError('REMOTE_ERROR', 'damaged', {
      hint: 'h',
      context: { vm: 'web01', block: '3' },
      damage: { kind: 'block', offset: 4096, file: '/r/a.vhd' },
    });
    const wire = { vm: 'web01', block: '3', file: '/r/a.vhd', offset: '4096', damage: 'block' };
    expect(err.context).toEqual(wire);
    expect(toIpcError(err)).toEqual({ code: 'REMOTE_ERROR', message: 'damaged', hint: 'h', context: wire });
    expect(toIpcError(new SluiceError('HOST_ERROR', 'm', { retryable: false, context: { host: 'h1' } }))).toEqual({
      code: 'HOST_ERROR',
      message: 'm',
      context: { host: 'h1', retryable: 'false' },
    });
    expect(toIpcError(new SluiceError('HOST_ERROR', 'm', { damage: { kind: 'truncated' } })).context).toEqual({
      damage: 'truncated',
    });
    expect(toIpcError(new SluiceError('HOST_ERROR', 'm'))).toEqual({ code: 'HOST_ERROR', message: 'm' });
  });
});

describe('format errors at the repository boundary', () => {
  it('a VHD chain error carries no hint; the repository gives it one by problem', () => {
    const broken = asChainProblem(new VhdChainError('/r/b.vhd', 'b is not a child of a'));
    expect(broken).toBeInstanceOf(SluiceError);
    expect(broken).toMatchObject({
      code: 'REMOTE_ERROR',
      message: 'b is not a child of a',
      hint: expect.stringMatching(/run a full backup/),
      context: { file: '/r/b.vhd', phase: 'read VHD chain' },
    });
    const unsupported = asChainProblem(new VhdChainError('/r/b.vhd', 'block sizes differ', 'unsupported'));
    expect((unsupported as SluiceError).hint).toMatch(/one block size/);
    const other = new Error('x');
    expect(asChainProblem(other)).toBe(other);
  });

  it('VHD and XVA errors are format errors with their damage kind and byte, not SluiceErrors', () => {
    const vhd = new VhdFormatError('footer', 'bad', { offset: 512, source: 'a.vhd' });
    const xva = new XvaVerifyError('chunk-checksum', 'bad', { offset: 1024, entry: 'Ref:3/00000001' });
    for (const e of [vhd, xva]) {
      expect(e).toBeInstanceOf(FormatError);
      expect(e).not.toBeInstanceOf(SluiceError);
    }
    expect(vhd).toMatchObject({ damage: 'footer', offset: 512, message: 'a.vhd: bad (at byte 512)' });
    expect(xva).toMatchObject({ damage: 'chunk-checksum', offset: 1024, entry: 'Ref:3/00000001' });
  });
});
