import { formatBytes, formatPercent, formatRate } from '../../../../src-shared/units';
import { describeEta, formatSeconds } from './eta';
import type { LiveRunStatus } from './live-run-status';
import type { RunStartInfo } from './run-model';
import type { Estimate } from './vm-transfer-rows';

type Kind = NonNullable<RunStartInfo['kind']>;

/**
 * What a run card shows of each kind of run: a backup or a restore moves data through a buffer (written,
 * rates on both sides, spool, the bottleneck and its graph); an export reads the repository and writes files;
 * a verify only reads and checks; a delete merges. No field that means nothing for the run it is on.
 */
export interface CardParts {
  graph: boolean;
  bottleneck: boolean;
}

export function cardParts(kind: RunStartInfo['kind']): CardParts {
  const moves = kind !== 'verify' && kind !== 'delete';
  return { graph: moves, bottleneck: moves };
}

/** A total as it reads: a length, an estimate marked "≈", or unknown. */
export function totalText(total: number | null, estimate: Estimate): string {
  if (total === null) return 'unknown';
  return estimate === 'allocation' ? `≈ ${formatBytes(total)}` : formatBytes(total);
}

const ESTIMATE_NOTES: Record<NonNullable<Estimate>, string> = {
  allocation: 'from the disks’ allocation, narrowed as the stream goes',
  exceeded: 'more than the disks’ allocation',
};

interface StatSpec {
  label: string;
  value: string;
  width: number;
  testId?: string;
  note?: string | null;
}

export function RunStats({
  kind = 'backup',
  mode,
  s,
  elapsedSeconds,
}: {
  kind: Kind | undefined;
  mode: RunStartInfo['mode'];
  s: LiveRunStatus;
  elapsedSeconds: number;
}) {
  return (
    <dl className="stats">
      {statsOf(kind, mode, s, elapsedSeconds).map((st) => (
        <Stat key={st.label} {...st} />
      ))}
    </dl>
  );
}

function statsOf(kind: Kind, mode: string | undefined, s: LiveRunStatus, elapsedSeconds: number): StatSpec[] {
  const eta = s.state === 'running' ? describeEta(s.eta) : { value: '—', why: null };
  const total: StatSpec = {
    label: 'Total',
    value: totalText(s.totalBytes, s.estimate),
    testId: 'bytes-total',
    width: 11,
    note: s.estimate && s.state === 'running' ? ESTIMATE_NOTES[s.estimate] : null,
  };
  const progress: StatSpec = {
    label: 'Progress',
    value: s.state === 'done' ? '100.0 %' : s.fraction === null ? 'unknown' : formatPercent(s.fraction),
    testId: 'progress-text',
    width: 8,
  };
  const timeLeft: StatSpec = { label: 'Time left', value: eta.value, note: eta.why, testId: 'eta', width: 12 };
  const elapsed: StatSpec = { label: 'Elapsed', value: formatSeconds(elapsedSeconds), width: 12 };
  const readRate: StatSpec = {
    label: 'Read rate',
    value: formatRate(s.sourceRate),
    testId: 'source-rate',
    width: 13,
  };
  switch (kind) {
    case 'verify':
      return [
        { label: 'Checked', value: formatBytes(s.bytesRead), testId: 'bytes-checked', width: 11 },
        { ...total, note: 'to read and check' },
        progress,
        readRate,
        timeLeft,
        elapsed,
      ];
    case 'delete':
      // A full point's files are simply removed: there is nothing to merge, so no byte count to show.
      if (mode === 'full') return [{ ...progress, value: s.state === 'done' ? '100.0 %' : '—' }, elapsed];
      return [
        { label: 'Merged', value: formatBytes(s.bytesWritten), testId: 'bytes-merged', width: 11 },
        { ...total, note: 'to merge into the next point' },
        progress,
        timeLeft,
        elapsed,
      ];
    case 'export':
      return [
        { label: 'Read', value: formatBytes(s.bytesRead), testId: 'bytes-read', width: 11 },
        { label: 'Written', value: formatBytes(s.bytesWritten), testId: 'bytes-written', width: 11 },
        { ...total, note: 'to read' },
        progress,
        readRate,
        { label: 'Write rate', value: formatRate(s.destinationRate), testId: 'destination-rate', width: 13 },
        timeLeft,
        elapsed,
      ];
    default:
      return [
        { label: 'Written', value: formatBytes(s.bytesWritten), testId: 'bytes-done', width: 11 },
        total,
        progress,
        { label: 'Source rate', value: formatRate(s.sourceRate), testId: 'source-rate', width: 13 },
        { label: 'Destination rate', value: formatRate(s.destinationRate), testId: 'destination-rate', width: 13 },
        { label: 'Buffered', value: formatBytes(s.bufferedBytes), testId: 'buffered', width: 11 },
        {
          label: 'Spool (disk)',
          value: formatBytes(s.spoolBytes),
          note: s.spoolCapBytes > 0 ? `of ${formatBytes(s.spoolCapBytes)} allowed` : null,
          width: 11,
        },
        timeLeft,
        elapsed,
      ];
  }
}

function Stat({ label, value, width, testId, note }: StatSpec) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>
        <span className="num" style={{ minWidth: `${width}ch`, textAlign: 'left' }} data-testid={testId}>
          {value}
        </span>
        {/* Always rendered, so a note appearing never pushes the rows below. */}
        <span className="stat-note">{note ?? '\u00a0'}</span>
      </dd>
    </div>
  );
}
