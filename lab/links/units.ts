/**
 * Strict parsing of the link units a user types at run time (`mplab link a:eth1 --rate 20mbit
 * --delay 10ms --loss 1%`), the same units the topology files use. "none" / "off" clear a parameter.
 */
import { UsageError } from '../errors';

const RATE: Record<string, number> = {
  bit: 1e-6,
  bps: 1e-6,
  kbit: 1e-3,
  kbps: 1e-3,
  mbit: 1,
  mbps: 1,
  gbit: 1e3,
  gbps: 1e3,
};

const TIME: Record<string, number> = { us: 1e-3, ms: 1, s: 1000 };

function split(what: string, text: string): [number, string] {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z%]*)\s*$/i.exec(text);
  if (!m) throw new UsageError(`bad ${what} '${text}'`);
  return [Number(m[1]), (m[2] ?? '').toLowerCase()];
}

const CLEAR = new Set(['none', 'off', 'no']);

/** "20mbit", "500kbit", "1gbit" → Mbit/s; "none" → null. */
export function parseRate(text: string): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  const [n, u] = split('rate', text);
  const f = RATE[u];
  if (f === undefined) throw new UsageError(`bad rate unit in '${text}' (use bit, kbit, mbit or gbit)`);
  if (n <= 0) throw new UsageError(`rate must be positive: '${text}'`);
  return n * f;
}

/** "10ms", "1.5s", "250us" → ms; "none" → null. */
export function parseDuration(text: string): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  const [n, u] = split('time', text);
  const f = TIME[u];
  if (f === undefined) throw new UsageError(`bad time unit in '${text}' (use us, ms or s)`);
  return n * f;
}

/** "1%", "0.5%" → percent; "none" → null. */
export function parsePercent(text: string): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  const [n, u] = split('percentage', text);
  if (u !== '%') throw new UsageError(`bad percentage '${text}' (e.g. 1%)`);
  if (n > 100) throw new UsageError(`percentage over 100: '${text}'`);
  return n;
}
