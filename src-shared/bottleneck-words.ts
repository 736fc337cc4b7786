import type { BottleneckSide, BottleneckWhy } from './contract/transfers.js';

/**
 * The engine's bottleneck verdict in words, one wording for the CLI and the UI: the CLI prints the headline, the
 * UI the headline with its reason, so the two never disagree about which side holds a transfer back.
 */

/**
 * What the two ends of a run are called: a backup reads the host and writes the remote; a restore the reverse.
 * `source`/`destination` go in sentences, `sourceLabel`/`destinationLabel` in the graph's legend and CLI lines.
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
  if (kind === 'mirror')
    return {
      source: 'the source remote',
      destination: 'the target remote',
      sourceLabel: 'source',
      destinationLabel: 'target',
    };
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

export interface VerdictInput {
  side: BottleneckSide;
  why?: BottleneckWhy | undefined;
  stalledForMs?: number | undefined;
}

export interface VerdictWords {
  /** "the host is the bottleneck"; empty while unknown. */
  headline: string;
  /** The headline capitalised with its reason: the UI's sentence. */
  sentence: string;
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

function reason(v: VerdictInput, { source: src, destination: dst }: FlowEnds): string {
  if (v.side === 'destination') {
    if (v.why === 'stalled')
      return `it has accepted nothing for ${seconds(v.stalledForMs ?? 0)} while ${src} keeps sending`;
    if (v.why === 'spool-full') return `the spool is full, so ${src} is slowed to the pace of ${dst}`;
    if (v.why === 'spool-filling') return `${src} sends faster than it is written, and the spool takes the difference`;
    if (v.why === 'memory-filling')
      return `${src} sends faster than it is written, and the memory buffer takes the difference`;
    return `${src} has to wait for it`;
  }
  if (v.side === 'source') {
    if (v.why === 'stalled') return `it has sent nothing for ${seconds(v.stalledForMs ?? 0)}`;
    return `${dst} takes everything at once and waits for more data`;
  }
  if (v.side === 'limit') return `${src} and ${dst} could go faster`;
  return `${src} and ${dst} keep pace`;
}

export function verdictWords(v: VerdictInput, ends: FlowEnds = BACKUP_ENDS): VerdictWords {
  const headline =
    v.side === 'source'
      ? `${ends.source} is the bottleneck`
      : v.side === 'destination'
        ? `${ends.destination} is the bottleneck`
        : v.side === 'limit'
          ? 'the speed limit sets the pace'
          : v.side === 'balanced'
            ? 'no bottleneck'
            : '';
  return { headline, sentence: headline ? `${cap(headline)}: ${reason(v, ends)}.` : 'Measuring…' };
}
