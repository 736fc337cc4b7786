import { formatPercent } from '../../../../src-shared/units';

/**
 * A fraction when the total is known; otherwise a striped bar that says "unknown" to screen readers too:
 * never a fake 0 % (users.md: a bar stuck at 0 % makes a stalled job look like a working one).
 */
export function ProgressBar({
  fraction,
  label,
  state,
}: {
  fraction: number | null;
  label: string;
  state?: 'done' | 'failed' | undefined;
}) {
  const known = fraction !== null;
  return (
    <div
      className={`progress${known ? '' : ' unknown'}${state ? ` ${state}` : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={known ? 0 : undefined}
      aria-valuemax={known ? 100 : undefined}
      aria-valuenow={known ? Math.round(fraction * 1000) / 10 : undefined}
      aria-valuetext={known ? formatPercent(fraction) : 'unknown'}
    >
      <div
        className="progress-fill"
        style={known ? { transform: `scaleX(${Math.min(1, Math.max(0, fraction))})` } : undefined}
      />
    </div>
  );
}
