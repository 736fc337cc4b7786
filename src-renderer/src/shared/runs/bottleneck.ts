/**
 * Names what holds a transfer back, in words an admin can act on. Sluice counts bytes on both sides of its
 * buffer, so the answer comes from what the buffer does: filling while the destination writes slower than
 * the host sends means the destination is slower; an empty buffer with the writer waiting means the host is.
 * The engine's own verdict (from how long each side waited) breaks ties.
 */

export type Verdict = 'source' | 'destination' | 'balanced' | 'unknown';
/** What the UI names: the engine's verdicts, plus Sluice's own speed limit setting the pace. */
export type Reading = Verdict | 'limit';

export interface FlowSample {
  /** ms, any monotonic clock. */
  t: number;
  sourceRate: number;
  destinationRate: number;
  /** Bytes held between host and destination: memory buffer plus disk spool. */
  bufferedBytes: number;
  spoolBytes: number;
  spoolCapBytes: number;
  engineVerdict: Verdict;
}

export interface BottleneckReading {
  verdict: Reading;
  /** One side has moved nothing for a while: said separately because it is not just "slower". */
  stalled: 'source' | 'destination' | null;
  stalledForMs: number;
  text: string;
}

const STILL = 4 * 1024; // bytes/s below which a side counts as not moving
const STALL_AFTER_MS = 2000;
const WINDOW_MS = 3000;
const EMPTY_BUFFER = 1024 * 1024;

function stillFor(samples: readonly FlowSample[], rate: (s: FlowSample) => number): number {
  const newest = samples[samples.length - 1]!;
  let since = newest.t;
  for (let i = samples.length - 1; i >= 0; i--) {
    if (rate(samples[i]!) >= STILL) break;
    since = samples[i]!.t;
  }
  return rate(newest) >= STILL ? 0 : newest.t - since;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/**
 * What the two ends of a run are called: a backup reads the host and writes the remote; a restore the reverse.
 * `source`/`destination` go in sentences, `sourceLabel`/`destinationLabel` in the graph's legend.
 */
export interface FlowEnds {
  source: string;
  destination: string;
  sourceLabel: string;
  destinationLabel: string;
}

export const BACKUP_ENDS: FlowEnds = {
  source: 'the host',
  destination: 'the destination',
  sourceLabel: 'host',
  destinationLabel: 'remote',
};

/** The words for each kind of run's ends (restore: repository → host; export: repository → file). */
export function flowEnds(kind: string | undefined): FlowEnds {
  if (kind === 'restore')
    return { source: 'the backup remote', destination: 'the host', sourceLabel: 'remote', destinationLabel: 'host' };
  if (kind === 'export')
    return {
      source: 'the backup remote',
      destination: 'the output file',
      sourceLabel: 'remote',
      destinationLabel: 'file',
    };
  if (kind === 'verify')
    return {
      source: 'the backup remote',
      destination: 'the checker',
      sourceLabel: 'remote',
      destinationLabel: 'checked',
    };
  return BACKUP_ENDS;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * `samples`: the recent history of one run, oldest first (the last half minute is plenty).
 * `speedLimitBytesPerSec`: the run's own limit, if any: a source held to it is not "the bottleneck".
 * `ends`: what the source and the destination are, for the words.
 */
export function readBottleneck(
  samples: readonly FlowSample[],
  speedLimitBytesPerSec: number | null = null,
  ends: FlowEnds = BACKUP_ENDS,
): BottleneckReading {
  const { source: src_, destination: dst_ } = ends;
  const none: BottleneckReading = { verdict: 'unknown', stalled: null, stalledForMs: 0, text: 'Measuring…' };
  if (samples.length < 2) return none;
  const newest = samples[samples.length - 1]!;
  const window = samples.filter((s) => s.t >= newest.t - WINDOW_MS);
  const first = window[0]!;
  const span = newest.t - first.t;
  if (span < 750) return none;

  const destStill = stillFor(samples, (s) => s.destinationRate);
  if (destStill >= STALL_AFTER_MS && newest.bufferedBytes > 0) {
    return {
      verdict: 'destination',
      stalled: 'destination',
      stalledForMs: destStill,
      text: `${cap(dst_)} is the bottleneck: it has accepted nothing for ${seconds(destStill)} while ${src_} keeps sending (buffered).`,
    };
  }
  const sourceStill = stillFor(samples, (s) => s.sourceRate);
  if (sourceStill >= STALL_AFTER_MS && newest.bufferedBytes < EMPTY_BUFFER) {
    return {
      verdict: 'source',
      stalled: 'source',
      stalledForMs: sourceStill,
      text: `${cap(src_)} is the bottleneck: it has sent nothing for ${seconds(sourceStill)}.`,
    };
  }

  const mean = (f: (s: FlowSample) => number) => window.reduce((a, s) => a + f(s), 0) / window.length;
  const src = mean((s) => s.sourceRate);
  const dst = mean((s) => s.destinationRate);
  const growth = ((newest.bufferedBytes - first.bufferedBytes) / span) * 1000;
  const votes = { source: 0, destination: 0, balanced: 0, unknown: 0 };
  for (const s of window) votes[s.engineVerdict]++;
  const engine: Verdict =
    votes.destination > window.length / 2
      ? 'destination'
      : votes.source > window.length / 2
        ? 'source'
        : votes.balanced > window.length / 2
          ? 'balanced'
          : 'unknown';

  const spoolFull = newest.spoolCapBytes > 0 && newest.spoolBytes >= 0.9 * newest.spoolCapBytes;
  if (spoolFull) {
    return {
      verdict: 'destination',
      stalled: null,
      stalledForMs: 0,
      text: `${cap(dst_)} is the bottleneck: the spool is full, so ${src_} is slowed to the pace of ${dst_}.`,
    };
  }
  const filling = growth > Math.max(256 * 1024, 0.1 * src) && dst < src;
  if (filling || (engine === 'destination' && newest.bufferedBytes >= EMPTY_BUFFER)) {
    return {
      verdict: 'destination',
      stalled: null,
      stalledForMs: 0,
      text: `${cap(dst_)} is the bottleneck: ${src_} sends faster than it is written, and the spool absorbs the difference.`,
    };
  }
  const draining = newest.bufferedBytes < EMPTY_BUFFER && growth <= 0;
  if (speedLimitBytesPerSec && src >= 0.8 * speedLimitBytesPerSec) {
    return {
      verdict: 'limit',
      stalled: null,
      stalledForMs: 0,
      text: `The speed limit sets the pace: ${src_} and ${dst_} could go faster.`,
    };
  }
  if (draining && (engine === 'source' || (engine !== 'destination' && dst >= 0.9 * src))) {
    return {
      verdict: 'source',
      stalled: null,
      stalledForMs: 0,
      text: `${cap(src_)} is the bottleneck: ${dst_} takes everything at once and waits for more data.`,
    };
  }
  if (engine === 'destination') {
    return {
      verdict: 'destination',
      stalled: null,
      stalledForMs: 0,
      text: `${cap(dst_)} is the bottleneck: ${src_} has to wait for it.`,
    };
  }
  return { verdict: 'balanced', stalled: null, stalledForMs: 0, text: `No bottleneck: ${src_} and ${dst_} keep pace.` };
}
