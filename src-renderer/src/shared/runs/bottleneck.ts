import {
  BACKUP_ENDS,
  type FlowEnds,
  verdictWords,
  type VerdictInput,
} from '../../../../src-shared/bottleneck-words.js';
import type { BottleneckSide, TransferProgress } from '../../../../src-shared/contract/transfers.js';

export { BACKUP_ENDS, flowEnds, type FlowEnds } from '../../../../src-shared/bottleneck-words.js';

/**
 * What holds a run back, in the words the CLI uses too. The engine decides each transfer's verdict
 * (`transfer/bottleneck-judge.ts`, with hysteresis); a run with several transfers at once (parallel disks or
 * VMs) shows the one that holds it back most. Nothing is judged again here.
 */

export type Verdict = BottleneckSide;

export interface BottleneckReading {
  verdict: Verdict;
  /** One side has moved nothing for a while: said separately because it is not just "slower". */
  stalled: 'source' | 'destination' | null;
  stalledForMs: number;
  text: string;
}

/** A stalled side first, then the slowest side: a destination holding one disk back holds the run back. */
const RANK: Record<Verdict, number> = { destination: 4, source: 3, limit: 2, balanced: 1, unknown: 0 };

function weight(v: VerdictInput): number {
  return RANK[v.side] + (v.why === 'stalled' ? 10 + (v.stalledForMs ?? 0) / 1e9 : 0);
}

/** `live`: the latest sample of each transfer of the run still moving bytes. */
export function readBottleneck(live: readonly TransferProgress[], ends: FlowEnds = BACKUP_ENDS): BottleneckReading {
  let worst: VerdictInput = { side: 'unknown' };
  for (const p of live) {
    if (p.phase !== 'transfer') continue;
    const v: VerdictInput = { side: p.bottleneck, why: p.bottleneckWhy, stalledForMs: p.stalledForMs };
    if (weight(v) > weight(worst)) worst = v;
  }
  const stalled = worst.why === 'stalled' && (worst.side === 'source' || worst.side === 'destination');
  return {
    verdict: worst.side,
    stalled: stalled ? (worst.side as 'source' | 'destination') : null,
    stalledForMs: stalled ? (worst.stalledForMs ?? 0) : 0,
    text: verdictWords(worst, ends).sentence,
  };
}
