import { describe, expect, it } from 'vitest';
import { XapiError } from '../../src-main/xapi/xapi-error.js';

describe('XapiError', () => {
  it("calls only SR_BACKEND_FAILURE_44 a full SR; other storage failures carry the driver's words", () => {
    const full = new XapiError('SR_BACKEND_FAILURE_44', ['', 'There is insufficient space', ''], {
      method: 'VDI.copy',
    });
    expect(full.message).toBe('The storage repository is full (SR_BACKEND_FAILURE_44).');
    expect(full.hint).toMatch(/Free space on the SR/);
    const other = new XapiError('SR_BACKEND_FAILURE_46', ['', 'The VDI is not available [opterr=VDI in use]', ''], {
      method: 'VDI.copy',
    });
    expect(other.message).toBe(
      "The host's storage failed (SR_BACKEND_FAILURE_46): The VDI is not available [opterr=VDI in use].",
    );
    expect(other.hint).not.toMatch(/Free space/);
    expect(other.context).toMatchObject({ xapiCode: 'SR_BACKEND_FAILURE_46', call: 'VDI.copy' });
  });

  it('explains a known code in plain words and keeps an unknown one with its parameters', () => {
    expect(new XapiError('SESSION_AUTHENTICATION_FAILED', ['root', 'Authentication failure']).message).not.toMatch(
      /SESSION_AUTHENTICATION_FAILED$/,
    );
    expect(new XapiError('SOMETHING_NEW', ['a', 'b'], { method: 'VM.start' }).message).toBe(
      'The host answered SOMETHING_NEW (a, b) to VM.start.',
    );
  });
});
