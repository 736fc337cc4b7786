import { describe, expect, it } from 'vitest';
import type { TransferProgress } from '../../src-shared/contract/transfers.js';
import { describeProgress } from '../../src-main/cli/progress-renderer.js';
import { ProgressSampler } from '../../src-main/transfer/progress-sampler.js';
import type { TransferCounters } from '../../src-main/transfer/transfer-pipeline.js';
import { RunStore } from '../../src-renderer/src/shared/runs/run-store.js';

// Issue #15: the CLI and the UI named different bottlenecks for the same run, a short run's verdict flipped
// every 2 s, and the UI said "the spool absorbs the difference" with 0 B in the spool. The engine now decides
// once; here the same sample sequences go through the engine's sampler, then to both the CLI's progress line
// and the UI's run store, which must say the same thing.

const MiB = 1024 * 1024;
const STEP_MS = 250;

/** What one 250 ms step of a transfer does: bytes each side moved, what the buffer holds, who waited. */
interface Step {
  read: number;
  written: number;
  memoryBytes?: number;
  spoolBytes?: number;
  /** ms of this step the host's side waited for buffer room, for the speed limit; the writer for data. */
  blocked?: number;
  throttled?: number;
  starved?: number;
}

interface Seen {
  ms: number;
  cli: string;
  ui: string;
  uiVerdict: string;
}

/** Feeds `steps` to an engine sampler on a fake clock; every sample goes to the CLI line and to a RunStore. */
function run(steps: Step[]): Seen[] {
  let now = 0;
  const buffer = { memoryBytes: 0, spoolBytes: 0, spoolPeakBytes: 0, memoryPeakBytes: 0 };
  const counters: TransferCounters = {
    bytesRead: 0,
    bytesWritten: 0,
    buffer,
    producerBlockedMs: 0,
    throttledMs: 0,
    consumerStarvedMs: 0,
  };
  const samples: TransferProgress[] = [];
  const sampler = new ProgressSampler(
    { runId: 'r1', vm: { uuid: 'vm-1', name: 'mail' }, disk: null, spoolCapBytes: 1024 * MiB },
    (p) => samples.push(p),
    STEP_MS,
    () => now,
  );
  sampler.restart(1, counters);
  sampler.setPhase('transfer');
  const store = new RunStore();
  const seen: Seen[] = [];
  for (const s of steps) {
    now += STEP_MS;
    const c = counters as { -readonly [K in keyof TransferCounters]: TransferCounters[K] };
    c.bytesRead += s.read;
    c.bytesWritten += s.written;
    c.producerBlockedMs += s.blocked ?? 0;
    c.throttledMs += s.throttled ?? 0;
    c.consumerStarvedMs += s.starved ?? 0;
    buffer.memoryBytes = s.memoryBytes ?? 0;
    buffer.spoolBytes = s.spoolBytes ?? 0;
    sampler.report();
    const p = samples[samples.length - 1]!;
    store.progress(p);
    const ui = store.summary('r1')!.bottleneck;
    seen.push({ ms: now, cli: describeProgress(p, 0), ui: ui.text, uiVerdict: ui.verdict });
  }
  return seen;
}

const repeat = (n: number, s: Step | ((i: number) => Step)): Step[] =>
  Array.from({ length: n }, (_, i) => (typeof s === 'function' ? s(i) : s));

/** The host held to 20 MB/s, a fast destination: the writer waits for data most of each step. */
const slowHost: Step = { read: 5 * MiB, written: 5 * MiB, starved: 200 };
/** A destination slower than the host: the host's side waits for room most of each step. */
const slowDestination: Step = { read: 4 * MiB, written: 4 * MiB, memoryBytes: 64 * MiB, blocked: 200 };

/** The words inside the CLI line's parentheses at its end, if any. */
function cliWords(line: string): string {
  return /\(([^()]*)\)$/.exec(line)?.[1] ?? '';
}

function expectSameVerdict(seen: Seen[]): void {
  for (const s of seen) {
    const words = cliWords(s.cli);
    if (!words) expect(s.ui, `at ${s.ms} ms`).toBe('Measuring…');
    else expect(s.ui.toLowerCase(), `at ${s.ms} ms`).toMatch(new RegExp(`^${words}: `));
  }
}

describe('one bottleneck verdict, decided by the engine, said the same by the CLI and the UI', () => {
  it('a host held to 20 MB/s with a fast destination: both say the host is the bottleneck', () => {
    const seen = run(repeat(40, slowHost));
    expectSameVerdict(seen);
    const last = seen[seen.length - 1]!;
    expect(cliWords(last.cli)).toBe('the host is the bottleneck');
    expect(last.ui).toBe(
      'The host is the bottleneck: the destination takes everything at once and waits for more data.',
    );
    expect(last.uiVerdict).toBe('source');
  });

  it('a short run whose sides trade places every 2 s keeps its verdict instead of flipping with them', () => {
    const seen = run([
      ...repeat(24, slowHost),
      ...repeat(8, slowDestination),
      ...repeat(8, slowHost),
      ...repeat(8, slowDestination),
      ...repeat(8, slowHost),
    ]);
    expectSameVerdict(seen);
    const shown = seen.filter((s) => s.ms >= 2000).map((s) => cliWords(s.cli));
    expect(new Set(shown)).toEqual(new Set(['the host is the bottleneck']));
  });

  it('a lasting change of side is taken, once it has held for a few seconds', () => {
    const seen = run([...repeat(24, slowHost), ...repeat(24, slowDestination)]);
    expectSameVerdict(seen);
    const words = seen.map((s) => cliWords(s.cli));
    expect(words[23]).toBe('the host is the bottleneck');
    expect(words[words.length - 1]).toBe('the destination is the bottleneck');
    const changes = words.filter((w, i) => i > 0 && w !== words[i - 1]);
    expect(changes).toEqual(['the host is the bottleneck', 'the destination is the bottleneck']);
  });

  it('a buffer filling in memory with the spool empty never says the spool absorbs anything', () => {
    // The host sends 8 MiB per step, the destination writes 4: memory fills by 4 MiB a step; the spool holds 0 B.
    const seen = run(repeat(24, (i) => ({ read: 8 * MiB, written: 4 * MiB, memoryBytes: (i + 1) * 4 * MiB })));
    expectSameVerdict(seen);
    const last = seen[seen.length - 1]!;
    expect(last.uiVerdict).toBe('destination');
    expect(last.ui).toBe(
      'The destination is the bottleneck: the host sends faster than it is written, and the memory buffer takes the difference.',
    );
    expect(seen.some((s) => /spool/.test(s.ui))).toBe(false);
  });

  it('the spool filling is named as such, and a destination that accepts nothing is said at once', () => {
    const filling = run(
      repeat(24, (i) => ({ read: 8 * MiB, written: 4 * MiB, memoryBytes: 64 * MiB, spoolBytes: (i + 1) * 4 * MiB })),
    );
    expectSameVerdict(filling);
    expect(filling[filling.length - 1]!.ui).toMatch(/and the spool takes the difference\.$/);

    const hung = run([
      ...repeat(24, slowHost),
      ...repeat(12, { read: 0, written: 0, memoryBytes: 64 * MiB, blocked: 250 }),
    ]);
    expectSameVerdict(hung);
    const last = hung[hung.length - 1]!;
    expect(last.uiVerdict).toBe('destination');
    expect(last.ui).toMatch(/^The destination is the bottleneck: it has accepted nothing for 3 s/);
  });

  it('the speed limit holding the host back is named, not blamed on the host', () => {
    const seen = run(repeat(24, { read: 1 * MiB, written: 1 * MiB, throttled: 220, starved: 220 }));
    expectSameVerdict(seen);
    expect(cliWords(seen[seen.length - 1]!.cli)).toBe('the speed limit sets the pace');
    expect(seen[seen.length - 1]!.uiVerdict).toBe('limit');
  });
});
