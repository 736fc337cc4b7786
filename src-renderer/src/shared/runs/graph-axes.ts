/**
 * The steps the graph's axes may tick at, and their labels. uPlot's own steps are decimal (1, 2, 5 × 10ⁿ), so a
 * byte axis ticked at 1 000 000 and read "976.6 KiB", and a run of a few seconds ticked every half second and
 * read "0:00 0:00 0:01". Time ticks are whole seconds and minutes; byte ticks are powers of two of a binary
 * unit, so every multiple the graph has room for reads exactly in that unit or the next ("512 KiB", "1.5 MiB").
 */

export const TIME_INCRS: number[] = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800];

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 128 is left out: its ninth multiple, 1152, would read "1.125" of the next unit. */
const STEPS = [1, 2, 4, 8, 16, 32, 64, 256, 512];
export const BYTE_INCRS: number[] = UNITS.flatMap((_, power) => STEPS.map((m) => m * 1024 ** power));

/** Seconds since the start: "0:45", "12:03", "1:02:03". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s % 60).padStart(2, '0')}`;
}

/** A tick's size, exact to two decimals and without trailing zeros: "0 B", "512 KiB", "1.25 GiB". */
export function tickBytes(v: number): string {
  let i = 0;
  while (i < UNITS.length - 1 && Math.abs(v) >= 1024 ** (i + 1)) i++;
  return `${Number((v / 1024 ** i).toFixed(2))} ${UNITS[i]}`;
}

export const tickRate = (v: number): string => `${tickBytes(v)}/s`;
