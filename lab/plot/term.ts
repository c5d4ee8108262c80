/**
 * A terminal chart for the live view: one row of block characters per series, newest on the
 * right, scaled to a shared maximum so rows compare at a glance.
 */
const BLOCKS = ' ▁▂▃▄▅▆▇█';

/** A sparkline of the last `width` values, scaled against `max` (defaults to their maximum). */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const tail = values.slice(-width);
  const top = max ?? Math.max(0, ...tail);
  let s = '';
  for (const v of tail) {
    const level = top > 0 ? Math.round((Math.max(0, v) / top) * (BLOCKS.length - 1)) : 0;
    s += BLOCKS[Math.min(BLOCKS.length - 1, level)];
  }
  return s.padStart(width, ' ');
}
