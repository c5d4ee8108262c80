/**
 * A campaign's matrix: the cartesian product of its axes, in a stable order, each cell with a
 * stable id so runs can be found again on resume.
 */
import { createHash } from 'node:crypto';

export type AxisValue = string | number | boolean;

export interface Axis {
  /** Dotted name: `stack`, `knobs.net.mptcp.mptcp_scheduler`, `links.<link id>.rate`, … */
  name: string;
  values: AxisValue[];
}

export interface Cell {
  /** Position in the product, 0-based. */
  index: number;
  /** Short, stable, filesystem-safe id derived from the assignments. */
  id: string;
  assignments: Record<string, AxisValue>;
}

export interface PlannedRun {
  /** `<cell id>-r<repetition>` */
  id: string;
  cell: Cell;
  repetition: number;
  /** Derived from the campaign seed, the cell and the repetition: a run can be repeated alone. */
  seed: number;
}

export function cells(axes: readonly Axis[]): Cell[] {
  let combos: Record<string, AxisValue>[] = [{}];
  for (const axis of axes) {
    const next: Record<string, AxisValue>[] = [];
    for (const c of combos) for (const v of axis.values) next.push({ ...c, [axis.name]: v });
    combos = next;
  }
  return combos.map((assignments, index) => ({ index, id: cellId(assignments), assignments }));
}

function slug(v: AxisValue): string {
  return String(v)
    .replace(/[^A-Za-z0-9.]+/g, '_')
    .slice(0, 24);
}

export function cellId(assignments: Record<string, AxisValue>): string {
  const keys = Object.keys(assignments);
  const readable = keys.map((k) => slug(assignments[k]!)).join('-') || 'base';
  const hash = createHash('sha256')
    .update(JSON.stringify(keys.map((k) => [k, assignments[k]])))
    .digest('hex')
    .slice(0, 6);
  return `${readable.slice(0, 60)}-${hash}`;
}

export function plan(axes: readonly Axis[], repetitions: number, seed: number): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const cell of cells(axes)) {
    for (let r = 1; r <= repetitions; r++) {
      const h = createHash('sha256').update(`${seed}/${cell.id}/${r}`).digest();
      runs.push({ id: `${cell.id}-r${r}`, cell, repetition: r, seed: h.readUInt32BE(0) });
    }
  }
  return runs;
}
