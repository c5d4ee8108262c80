/**
 * How a figure is compared with its baseline: the ratio of the medians, oriented so that > 1 always
 * means ours is better (ours/baseline for rates, baseline/ours for times and costs), and a text for
 * it that is printed for every figure, worse ones included. Where a median is 0 the ratio is
 * unbounded or 0; the text then says which side is 0 instead of hiding the comparison.
 *
 * `overlap` says whether the two min–max ranges overlap: then the difference is within the
 * run-to-run spread of this run and the verdict is "within spread", whatever the ratio.
 */
import { median } from '../harness';

export type Verdict = 'better' | 'worse' | 'equal' | 'within spread' | 'n/a';

export interface Ratio {
  /** > 1 = ours better; null when unbounded (the other side's median is 0) or undefined. */
  value: number | null;
  /** Printed form, e.g. "1.43×", "0.0024×", "∞ (ours 0)", "1.00× (both 0)". */
  text: string;
  verdict: Verdict;
  /** Whether the min–max ranges of ours and the baseline overlap. */
  overlap: boolean;
  /** Median of ours minus median of the baseline, in the figure's unit. */
  difference: number | null;
}

/** A ratio's number in a width that keeps small ratios readable (never "0.00×" for a loss). */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '∞';
  if (r === 0) return '0×';
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  if (r >= 0.01) return `${r.toFixed(2)}×`;
  return `${r.toPrecision(2)}×`;
}

function rangesOverlap(a: number[], b: number[]): boolean {
  return Math.min(...a) <= Math.max(...b) && Math.min(...b) <= Math.max(...a);
}

export function compare(ours: number[], baseline: number[], higherIsBetter: boolean): Ratio {
  if (ours.length === 0 || baseline.length === 0)
    return { value: null, text: 'n/a (no values)', verdict: 'n/a', overlap: false, difference: null };
  const o = median(ours);
  const b = median(baseline);
  const difference = o - b;
  // With one value per side (a quick run) the ranges are points: they overlap only when equal.
  const overlap = rangesOverlap(ours, baseline);
  if (o < 0 || b < 0)
    return { value: null, text: 'n/a (negative median)', verdict: 'n/a', overlap, difference };
  if (o === 0 && b === 0) return { value: 1, text: '1.00× (both 0)', verdict: 'equal', overlap, difference };
  const num = higherIsBetter ? o : b;
  const den = higherIsBetter ? b : o;
  const zeroSide = b === 0 ? 'baseline 0' : 'ours 0';
  let value: number | null;
  let text: string;
  if (den === 0) {
    value = null;
    text = `∞ (${zeroSide})`;
  } else {
    value = num / den;
    text = num === 0 ? `0× (${zeroSide})` : formatRatio(value);
  }
  const better = value === null || value > 1;
  let verdict: Verdict = value === 1 ? 'equal' : better ? 'better' : 'worse';
  if (overlap && verdict !== 'equal' && ours.length > 1 && baseline.length > 1) verdict = 'within spread';
  return { value, text, verdict, overlap, difference };
}

/** A figure's value cell: "median unit [min–max]" (the range only when there are several values). */
export function formatMeasured(values: number[], unit: string): string {
  if (values.length === 0) return '–';
  const f = (v: number) =>
    Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v === 0 ? '0' : v.toPrecision(3);
  const med = median(values);
  if (values.length === 1) return `${f(med)} ${unit}`;
  return `${f(med)} ${unit} [${f(Math.min(...values))}–${f(Math.max(...values))}]`;
}
