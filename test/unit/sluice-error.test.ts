import { describe, expect, it } from 'vitest';
import { isRetryable } from '../../src-main/backup/retry-policy.js';
import { SluiceError, toIpcError } from '../../src-main/errors/sluice-error.js';
import { isCutStream } from '../../src-main/backup/full-backup.js';

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
