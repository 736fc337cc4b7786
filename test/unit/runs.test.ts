import { statfsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { perVmLimits } from '../../src-main/runs/backup-plan.js';
import { OperationRegistry } from '../../src-main/runs/operation-registry.js';
import { spoolBudget } from '../../src-main/runs/spool-budget.js';
import { tempDirs } from '../helpers/temp-dir.js';

const { temp, cleanupAll } = tempDirs();
afterEach(cleanupAll);

describe('the spool-cap rule', () => {
  it('gives what was asked when the disk has room, and never more than half its free space', async () => {
    const dir = temp();
    const free = (() => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    })();
    const small = await spoolBudget(1024 * 1024, dir);
    expect(small).toEqual({ dir, capBytes: 1024 * 1024, limitedByFreeSpace: false });
    const huge = await spoolBudget(free * 4, dir);
    expect(huge.limitedByFreeSpace).toBe(true);
    // Free space moves a little between the two readings; the cap is half of it, not all.
    expect(huge.capBytes).toBeLessThanOrEqual(Math.ceil(free / 2) + 64 * 1024 * 1024);
    expect(huge.capBytes).toBeGreaterThan(free / 4);
  });

  it('refuses a spool folder that is a file, saying it is the spool', async () => {
    const dir = temp();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/f`, 'x');
    await expect(spoolBudget(1024, `${dir}/f`)).rejects.toThrow(/spool folder .* is not a folder/);
  });
});

describe('limits shared among VMs in flight', () => {
  it('divides speed, buffer and spool by the VMs that run at once', () => {
    const limits = {
      vmConcurrency: 4,
      speedLimitBytesPerSec: 100_000_000,
      memoryBufferBytes: 64 * 1024 * 1024,
      spoolDir: '/tmp',
      spoolCapBytes: 4_000_000_000,
    };
    expect(perVmLimits(limits, 2)).toEqual({
      slots: 2,
      speedLimitBytesPerSec: 50_000_000,
      memoryBufferBytes: 32 * 1024 * 1024,
      spoolCapBytes: 2_000_000_000,
    });
    expect(perVmLimits({ ...limits, speedLimitBytesPerSec: null, memoryBufferBytes: 1024 }, 10)).toMatchObject({
      slots: 4,
      speedLimitBytesPerSec: null,
      memoryBufferBytes: 1024 * 1024,
    });
  });
});

describe('the registry of runs', () => {
  it('cancels a run by id, only among the kinds asked, and forgets it when it ends', () => {
    const reg = new OperationRegistry();
    const backup = reg.begin('b1', 'backup');
    const restore = reg.begin('r1', 'restore');
    expect(reg.cancel('b1', ['restore', 'export'])).toBe(false);
    expect(backup.signal.aborted).toBe(false);
    expect(reg.cancel('b1', ['backup'])).toBe(true);
    expect(backup.signal.aborted).toBe(true);
    expect((backup.signal.reason as Error).message).toBe('Cancelled by the user.');
    backup.end();
    expect(reg.cancel('b1')).toBe(false);
    reg.cancelAll(['backup']);
    expect(restore.signal.aborted).toBe(false);
    reg.cancelAll();
    expect(restore.signal.aborted).toBe(true);
    expect(() => reg.begin('r1', 'restore')).toThrow(/already registered/);
    restore.end();
    expect(reg.size).toBe(0);
  });
});
