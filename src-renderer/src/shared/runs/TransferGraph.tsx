import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { MiB } from '../../../../src-shared/units';
import { flowEnds } from './bottleneck';
import { BYTE_INCRS, clock, tickBytes, tickRate, TIME_INCRS } from './graph-axes';
import { COL } from './run-model';
import type { RunStore } from './run-store';

const HEIGHT = 240;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/**
 * The live graph of one run: source rate, destination rate and what the buffer holds, from the run's ring
 * buffer. Events only mark it dirty; it draws at most once per animation frame, and not at all while hidden.
 */
export function TransferGraph({ store, runId, label }: { store: RunStore; runId: string; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  // A backup reads the host and writes the remote; a restore reads the remote and writes the host.
  const ends = flowEnds(store.get(runId)?.info?.kind);
  useEffect(() => {
    const el = host.current;
    const run = store.get(runId);
    if (!el || !run) return;
    let plot: uPlot | undefined;
    let frame = 0;
    let drawnVersion = -1;
    const x = new Float64Array(run.history.capacity);
    // The axes are drawn on a canvas: the labels last drawn are kept on the element for what reads it.
    const shown = (key: string, labels: string[]) => {
      el.dataset[key] = labels.join('|');
      return labels;
    };

    const data = (): uPlot.AlignedData => {
      const cols = run.history.columns();
      const t = cols[COL.t]!;
      // Seconds since the run was first seen: "0:45" reads better than a wall clock with milliseconds.
      for (let i = 0; i < t.length; i++) x[i] = (t[i]! - run.firstSeen) / 1000;
      return [x.subarray(0, t.length), cols[COL.source]!, cols[COL.destination]!, cols[COL.buffered]!];
    };

    const create = () => {
      plot?.destroy();
      const grid = { stroke: cssVar('--border'), width: 1 };
      const axis = { stroke: cssVar('--muted'), grid, ticks: grid };
      plot = new uPlot(
        {
          width: Math.max(300, el.clientWidth),
          height: HEIGHT,
          legend: { show: false },
          cursor: { drag: { x: false, y: false }, points: { show: false } },
          scales: {
            x: { time: false },
            rate: { range: (_u, _min, max) => [0, Math.max(MiB, max * 1.1)] },
            buf: { range: (_u, _min, max) => [0, Math.max(MiB, max * 1.1)] },
          },
          // Axis widths are fixed, so the plot never shifts as its labels change; wide enough for the longest
          // label ("1023.9 KiB/s", "1023.9 MiB"), which 80 px clipped.
          axes: [
            { ...axis, incrs: TIME_INCRS, values: (_u, vals) => shown('ticksTime', vals.map(clock)) },
            {
              ...axis,
              scale: 'rate',
              size: 100,
              incrs: BYTE_INCRS,
              values: (_u, vals) => shown('ticksRate', vals.map(tickRate)),
            },
            {
              ...axis,
              scale: 'buf',
              side: 1,
              size: 92,
              grid: { show: false },
              incrs: BYTE_INCRS,
              values: (_u, vals) => shown('ticksBuffered', vals.map(tickBytes)),
            },
          ],
          series: [
            {},
            {
              label: `Source (${ends.sourceLabel})`,
              scale: 'rate',
              stroke: cssVar('--series-source'),
              width: 2,
              points: { show: false },
            },
            {
              label: `Destination (${ends.destinationLabel})`,
              scale: 'rate',
              stroke: cssVar('--series-destination'),
              width: 2,
              points: { show: false },
            },
            {
              label: 'Buffered (memory + spool)',
              scale: 'buf',
              stroke: cssVar('--series-buffer'),
              width: 1.5,
              dash: [6, 4],
              points: { show: false },
              fill: `color-mix(in srgb, ${cssVar('--series-buffer')} 12%, transparent)`,
            },
          ],
        },
        data(),
        el,
      );
      drawnVersion = run.version;
      el.dataset.points = String(run.history.length);
    };

    // Off-screen graphs (ten runs do not fit one screen) skip their redraws and catch up when scrolled to.
    let visible = true;
    const draw = () => {
      frame = 0;
      if (!plot || !visible || drawnVersion === run.version) return;
      drawnVersion = run.version;
      plot.setData(data());
      el.dataset.points = String(run.history.length);
    };
    create();
    const off = store.subscribe(() => {
      if (!frame && visible && drawnVersion !== run.version) frame = requestAnimationFrame(draw);
    });
    const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(300, el.clientWidth), height: HEIGHT }));
    resize.observe(el);
    const seen = new IntersectionObserver((entries) => {
      visible = entries.some((e) => e.isIntersecting);
      if (visible && !frame) frame = requestAnimationFrame(draw);
    });
    seen.observe(el);
    window.addEventListener('sluice-theme', create);
    return () => {
      off();
      if (frame) cancelAnimationFrame(frame);
      resize.disconnect();
      seen.disconnect();
      window.removeEventListener('sluice-theme', create);
      plot?.destroy();
    };
  }, [store, runId, ends.sourceLabel, ends.destinationLabel]);

  return (
    <figure style={{ margin: 0 }}>
      <div ref={host} className="graph" role="img" aria-label={label} data-testid="transfer-graph" />
      <figcaption className="graph-legend">
        <span>
          <span className="swatch" style={{ background: 'var(--series-source)' }} />
          Source rate ({ends.sourceLabel})
        </span>
        <span>
          <span className="swatch" style={{ background: 'var(--series-destination)' }} />
          Destination rate ({ends.destinationLabel})
        </span>
        <span>
          <span className="swatch" style={{ background: 'var(--series-buffer)' }} />
          Buffered in memory and spool (right axis)
        </span>
      </figcaption>
    </figure>
  );
}
