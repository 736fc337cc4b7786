import { formatPercent } from '../../../../src-shared/units';

/**
 * A fraction when the total is known; otherwise a striped bar that says "unknown" to screen readers too:
 * never a fake 0 % (users.md: a bar stuck at 0 % makes a stalled job look like a working one). A skipped
 * transfer says so, and one that ended without finishing ("stopped") no longer looks like it is working.
 */
export function ProgressBar({
  fraction,
  label,
  state,
}: {
  fraction: number | null;
  label: string;
  state?: 'done' | 'failed' | 'skipped' | 'stopped' | undefined;
}) {
  const known = fraction !== null && state !== 'skipped';
  const striped = !known && state !== 'skipped' && state !== 'stopped' && state !== 'failed';
  const text = known ? formatPercent(fraction) : state === 'skipped' ? 'skipped' : striped ? 'unknown' : 'not finished';
  return (
    <div
      className={`progress${striped ? ' unknown' : ''}${state ? ` ${state}` : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={known ? 0 : undefined}
      aria-valuemax={known ? 100 : undefined}
      aria-valuenow={known ? Math.round(fraction * 1000) / 10 : undefined}
      aria-valuetext={text}
    >
      <div
        className="progress-fill"
        style={{
          transform: `scaleX(${known ? Math.min(1, Math.max(0, fraction)) : striped || state === 'failed' ? 1 : 0})`,
        }}
      />
    </div>
  );
}
