import { describe, expect, it } from 'vitest';
import { chainText, jobLabel } from '../../../src-renderer/src/features/backups/point-view.js';

const at = (iso: string) => `[${iso}]`;

describe('Backups table: chain and job of a point', () => {
  it("names a point's place in its chain", () => {
    expect(chainText({ kind: 'standalone' }, at)).toBe('standalone');
    expect(chainText({ kind: 'base', length: 1 }, at)).toBe('base');
    expect(chainText({ kind: 'base', length: 3 }, at)).toBe('base of 3');
    expect(
      chainText(
        {
          kind: 'delta',
          position: 3,
          length: 3,
          basePointId: '20261120T100000Z',
          baseTimestamp: '2026-11-20T10:00:00.000Z',
          uniform: true,
        },
        at,
      ),
    ).toBe('delta 3 of 3 on [2026-11-20T10:00:00.000Z]');
    expect(
      chainText(
        { kind: 'delta', position: 2, length: 4, basePointId: '20261120T100000Z', baseTimestamp: null, uniform: false },
        at,
      ),
    ).toBe('delta 2 of 4 on point 20261120T100000Z (its disks are on different chains)');
    expect(chainText({ kind: 'broken', reason: 'x.vhd is missing' }, at)).toBe('broken: x.vhd is missing');
  });

  it('names the job, says when it is gone, and does not call it gone before the jobs are read', () => {
    const jobs = [{ id: 'j1', name: 'Nightly mail' }];
    expect(jobLabel('j1', jobs)).toEqual({ text: 'Nightly mail', gone: false });
    expect(jobLabel('j2', jobs)).toEqual({ text: 'j2', gone: true });
    expect(jobLabel('j2', null)).toEqual({ text: 'j2', gone: false });
    expect(jobLabel('sluice-ui', jobs)).toEqual({ text: '“Back up now” (no job)', gone: false });
  });
});
