/** Argument parsing shared by run, demo and campaign. */
import { UsageError } from '../../lab/errors';
import { parseDuration } from '../../lab/links/units';
import type { RunStack } from '../../lab/run/result';
import { parseSize } from '../../lab/topology/units';

/** "10000000", "10mb", "64kib" → bytes. */
export function parseBytesArg(text: string, what = '--bytes'): number {
  if (/^\s*\d+\s*$/.test(text)) return Number(text);
  const r = parseSize(text);
  if (!r.ok) throw new UsageError(`${what} ${text}: ${r.message}`);
  return r.value;
}

/** "30" (seconds), "30s", "500ms" → ms. */
export function parseTimeArg(text: string, what = '--time'): number {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return Number(text) * 1000;
  const v = parseDuration(text);
  if (v === null || !(v > 0)) throw new UsageError(`${what} ${text}: expected a time like 10s or 500ms`);
  return v;
}

export function parseStackArg(text: string): RunStack {
  if (text === 'ts' || text === 'kernel' || text === 'tcp') return text;
  throw new UsageError(`--stack ${text}: expected ts, kernel or tcp`);
}

export function parseSeedArg(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--seed ${text}: expected a non-negative integer`);
  return Number(text);
}
