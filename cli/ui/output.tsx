/**
 * Output helpers shared by the lab commands: JSON to stdout, static ink views rendered once to a
 * string (status, sysctl, down), and the lab a node-targeted command talks to.
 */
import { renderToString } from 'ink';
import type { ReactElement } from 'react';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function columns(): number {
  return process.stdout.columns && process.stdout.columns > 40 ? process.stdout.columns : 160;
}

/** Renders an ink element once and writes it to stdout. */
export function printView(el: ReactElement): void {
  process.stdout.write(`${renderToString(el, { columns: columns() })}\n`);
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

export function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}
