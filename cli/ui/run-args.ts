/** Argument parsing shared by run, demo and campaign. */
import { UsageError } from '../../lab/errors';
import type { RunStack } from '../../lab/run/result';
import { parseSize, parseTime } from '../../lab/topology/units';

/** "10000000", "10mb", "64kib" → bytes. */
export function parseBytesArg(text: string, what = '--bytes'): number {
  if (/^\s*\d+\s*$/.test(text)) return Number(text);
  const r = parseSize(text);
  if (!r.ok) throw new UsageError(`${what} ${text}: ${r.message}`);
  return r.value;
}

/** "30" (seconds), "30s", "500ms", "2min" → ms (the topology files' time grammar). */
export function parseTimeArg(text: string, what = '--time'): number {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return Number(text) * 1000;
  const v = parseTime(text);
  if (!v.ok) throw new UsageError(`${what} ${text}: ${v.message}`);
  if (!(v.value > 0)) throw new UsageError(`${what} ${text}: must be greater than zero`);
  return v.value;
}

export function parseStackArg(text: string): RunStack {
  if (text === 'ts' || text === 'kernel' || text === 'tcp') return text;
  throw new UsageError(`--stack ${text}: expected ts, kernel or tcp`);
}

export function parseSeedArg(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--seed ${text}: expected a non-negative integer`);
  return Number(text);
}

/** A TCP port, 1–65535. */
export function parsePortArg(text: string, what = '--port'): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${what} ${text}: expected a port number (1-65535)`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new UsageError(`${what} ${text}: out of range (1-65535)`);
  return n;
}
