import { describe, expect, it } from 'vitest';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { PassThrough } from 'node:stream';
import { describeProgress, ProgressRenderer } from '../../src-main/cli/progress-renderer.js';

const base: TransferProgress = {
  runId: 'r',
  vm: { uuid: 'u', name: 'web01' },
  disk: null,
  phase: 'transfer',
  attempt: 1,
  bytesRead: 3 * 1024 ** 3,
  bytesWritten: 2 * 1024 ** 3,
  totalBytes: null,
  sourceRate: 100 * 1024 ** 2,
  destinationRate: 25 * 1024 ** 2,
  memoryBytes: 64 * 1024 ** 2,
  spoolBytes: 900 * 1024 ** 2,
  spoolCapBytes: 4 * 1024 ** 3,
  bottleneck: 'destination',
  etaSeconds: null,
  elapsedMs: 1000,
  at: '2026-01-01T00:00:00Z',
};

describe('CLI progress line', () => {
  it('says "unknown" instead of a fake percentage, and names the bottleneck', () => {
    const line = describeProgress(base, 3);
    expect(line).toContain('2.0 GiB of unknown');
    expect(line).not.toMatch(/\d+%/);
    expect(line).toContain('host 100.0 MiB/s');
    expect(line).toContain('remote 25.0 MiB/s');
    expect(line).toContain('spool 900.0 MiB');
    expect(line).toContain('(the destination is the bottleneck)');
  });

  it('shows a percentage and an ETA only when the total is known and the ETA honest', () => {
    const line = describeProgress({ ...base, totalBytes: 4 * 1024 ** 3, etaSeconds: 82, bottleneck: 'source' }, 0);
    expect(line).toMatch(/\[#{12}-{12}\]\s+50%/);
    expect(line).toContain('ETA 1:22');
    expect(line).toContain('(the host is the bottleneck)');
  });

  it('a verify counts what it read, not what it wrote; an estimated total is marked and stops short of 100 %', () => {
    const verify = describeProgress(
      { ...base, phase: 'verify', bytesWritten: 0, totalBytes: 4 * 1024 ** 3, totalOf: 'read' },
      0,
    );
    expect(verify).toContain('3.0 GiB / 4.0 GiB');
    expect(verify).toMatch(/\s75%/);
    const estimate = describeProgress(
      { ...base, bytesWritten: 4 * 1024 ** 3, totalBytes: 4 * 1024 ** 3, totalEstimate: 'allocation' },
      0,
    );
    expect(estimate).toContain('4.0 GiB / ≈ 4.0 GiB');
    expect(estimate).toMatch(/\s99%/);
  });

  it("a VM whose disks report one by one: its own line gives the phase and leaves the bytes to the disks' lines", () => {
    const line = describeProgress(
      {
        ...base,
        bytesWritten: 0,
        disks: [
          { uuid: 'a', name: 'system' },
          { uuid: 'b', name: 'data' },
        ],
      },
      0,
    );
    expect(line).toMatch(/^web01\s+transfer\s+2 disk\(s\), one line each$/);
    expect(
      describeProgress(
        { ...base, phase: 'merge', totalBytes: 4 * 1024 ** 3, disks: [{ uuid: 'a', name: 'system' }] },
        0,
      ),
    ).toMatch(/50%/);
  });

  it("a VM whose disks report one by one ends with what its disks wrote, not its own sample's 0 B", () => {
    const disks = [
      { uuid: 'a', name: 'system' },
      { uuid: 'b', name: 'data' },
    ];
    const written: string[] = [];
    const out = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    out.on('data', (d: Buffer) => written.push(...d.toString().split('\n').filter(Boolean)));
    const r = new ProgressRenderer(out);
    r.update({ ...base, phase: 'done', disk: disks[0]!, bytesWritten: 150 * 1024 });
    r.update({ ...base, phase: 'done', disk: disks[1]!, bytesWritten: 55 * 1024 });
    r.update({ ...base, phase: 'commit', bytesWritten: 0, disks });
    r.update({ ...base, phase: 'done', bytesWritten: 0, disks });
    r.stop();
    expect(written.at(-2)).toMatch(/^web01\s+commit\s+2 disk\(s\), one line each$/);
    expect(written.at(-1)).toMatch(/^web01\s+done\s+\[#{24}\] done\s+205\.0 KiB/);
  });

  it('shows retries and a finished transfer plainly', () => {
    expect(describeProgress({ ...base, attempt: 2 }, 0)).toContain('attempt 2');
    expect(describeProgress({ ...base, phase: 'done' }, 0)).toMatch(/\[#{24}\] done\s+2\.0 GiB/);
  });
});
