// Strict parsers for the quantities a topology file writes with units: rates, times, sizes, queue
// limits and percentages. Each returns a value or a message saying what was expected; nothing is
// guessed (a bare number where a unit is needed is an error, and so is an ambiguous unit).

import { UsageError } from '../errors';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const NUM = '([0-9]+(?:\\.[0-9]+)?|\\.[0-9]+)';

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}
function bad<T>(message: string): Parsed<T> {
  return { ok: false, message };
}
function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : String(v);
}

// ---------------------------------------------------------------------------------------- rates

const RATE_UNITS: Record<string, number> = { bit: 1e-6, kbit: 1e-3, mbit: 1, gbit: 1e3, tbit: 1e6 };
const RATE_RE = new RegExp(`^\\s*${NUM}\\s*([a-zA-Z/]+)\\s*$`);
/** JSON Schema pattern for editors (the parser is the authority). */
export const RATE_PATTERN = '^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*([kKmMgGtT]?[bB][iI][tT])\\s*$';

/** "20mbit", "1gbit", "500kbit", "9600bit" → Mbit/s. tc's "bps" units (bytes!) are refused. */
export function parseRate(v: unknown): Parsed<number> {
  const expected = 'expected a rate like "20mbit", "500kbit" or "1gbit"';
  if (typeof v === 'number') return bad(`${expected}, got the bare number ${v} (add a unit)`);
  if (typeof v !== 'string') return bad(`${expected}, got ${typeof v}`);
  const m = RATE_RE.exec(v);
  if (!m) return bad(`${expected}, got ${show(v)}`);
  const unit = m[2]!.toLowerCase();
  const mult = RATE_UNITS[unit];
  if (mult === undefined) {
    if (/^[kmgt]?(bps|b\/s|bit\/s)$/.test(unit))
      return bad(
        `ambiguous rate unit "${m[2]}" in ${show(v)}: write bits per second as bit, kbit, mbit or gbit ` +
          '(tc reads "bps" as bytes per second)',
      );
    return bad(`unknown rate unit "${m[2]}" in ${show(v)}: ${expected}`);
  }
  const value = Number(m[1]) * mult;
  if (value <= 0) return bad(`rate must be greater than zero, got ${show(v)}`);
  return ok(value);
}

// ---------------------------------------------------------------------------------------- times

const TIME_UNITS: Record<string, number> = { us: 1e-3, µs: 1e-3, ms: 1, s: 1000, sec: 1000, min: 60_000 };
const TIME_RE = new RegExp(`^\\s*(-)?${NUM}\\s*([a-zA-Zµ]+)\\s*$`);
export const TIME_PATTERN = '^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*(us|µs|ms|s|sec|min)\\s*$';

/** "10ms", "1.5s", "250us", "2min" → milliseconds (≥ 0). The bare number 0 is accepted. */
export function parseTime(v: unknown): Parsed<number> {
  const expected = 'expected a time like "10ms", "1.5s", "250us" or "2min"';
  if (v === 0) return ok(0);
  if (typeof v === 'number')
    return bad(
      `${expected}, got the bare number ${v} (add a unit)${v < 0 ? '; it must not be negative' : ''}`,
    );
  if (typeof v !== 'string') return bad(`${expected}, got ${typeof v}`);
  const m = TIME_RE.exec(v);
  if (!m) return bad(`${expected}, got ${show(v)}`);
  const mult = TIME_UNITS[m[3]!];
  if (mult === undefined) return bad(`unknown time unit "${m[3]}" in ${show(v)}: ${expected}`);
  if (m[1]) return bad(`time must not be negative, got ${show(v)}`);
  return ok(Number(m[2]) * mult);
}

// ---------------------------------------------------------------------------------------- sizes

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  byte: 1,
  bytes: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 * 1024,
  gb: 1e9,
  gib: 1024 ** 3,
};
const SIZE_RE = new RegExp(`^\\s*${NUM}\\s*([a-zA-Z]+)\\s*$`);

/** "64kb" (64000), "64kib" (65536), "1500b", "2mb" → bytes (integer). */
export function parseSize(v: unknown): Parsed<number> {
  const expected = 'expected a size like "1500b", "64kb" (SI), "64kib" or "1mb"';
  if (typeof v === 'number') return bad(`${expected}, got the bare number ${v} (add a unit)`);
  if (typeof v !== 'string') return bad(`${expected}, got ${typeof v}`);
  const m = SIZE_RE.exec(v);
  if (!m) return bad(`${expected}, got ${show(v)}`);
  const mult = SIZE_UNITS[m[2]!.toLowerCase()];
  if (mult === undefined) return bad(`unknown size unit "${m[2]}" in ${show(v)}: ${expected}`);
  return ok(Math.round(Number(m[1]) * mult));
}

// ---------------------------------------------------------------------------------------- queues

const PACKET_UNITS = new Set(['p', 'pkt', 'pkts', 'packet', 'packets']);
export const QUEUE_PATTERN =
  '^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*(p|pkts?|packets?|[bB]|bytes?|[kKmMgG][iI]?[bB]|us|µs|ms|s)\\s*$';

/** "100 packets" | "64kb" | "50ms" → exactly one of {packets, bytes, ms}. */
export function parseQueue(v: unknown): Parsed<{ packets?: number; bytes?: number; ms?: number }> {
  const expected = 'expected a queue limit like "100 packets", "64kb" or "50ms"';
  if (typeof v === 'number') return bad(`${expected}, got the bare number ${v} (add a unit)`);
  if (typeof v !== 'string') return bad(`${expected}, got ${typeof v}`);
  const m = SIZE_RE.exec(v.replace(/µs\s*$/, 'us'));
  if (!m) return bad(`${expected}, got ${show(v)}`);
  const unit = m[2]!.toLowerCase();
  const n = Number(m[1]);
  let out: { packets?: number; bytes?: number; ms?: number };
  if (PACKET_UNITS.has(unit)) {
    if (!Number.isInteger(n)) return bad(`a queue of packets needs a whole number, got ${show(v)}`);
    out = { packets: n };
  } else if (unit in SIZE_UNITS) {
    const s = parseSize(v);
    if (!s.ok) return s;
    out = { bytes: s.value };
  } else if (unit === 'us' || unit === 'ms' || unit === 's') {
    const t = parseTime(v.replace(/µs\s*$/, 'us'));
    if (!t.ok) return t;
    out = { ms: t.value };
  } else return bad(`unknown queue unit "${m[2]}" in ${show(v)}: ${expected}`);
  const val = out.packets ?? out.bytes ?? out.ms ?? 0;
  if (val <= 0) return bad(`queue limit must be greater than zero, got ${show(v)}`);
  return ok(out);
}

// ---------------------------------------------------------------------------------------- percent

const PCT_RE = new RegExp(`^\\s*(-)?${NUM}\\s*%\\s*$`);
export const PERCENT_PATTERN = '^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*%\\s*$';

/** "1%", "0.5 %" → percent in [0, 100]. Bare numbers are refused (fraction or percent?). */
export function parsePercent(v: unknown, what = 'value'): Parsed<number> {
  const expected = `expected a percentage like "1%" or "0.5%"`;
  if (typeof v === 'number')
    return bad(`${expected}, got the bare number ${v} (write "${v}%" for percent; a fraction is ambiguous)`);
  if (typeof v !== 'string') return bad(`${expected}, got ${typeof v}`);
  const m = PCT_RE.exec(v);
  if (!m) return bad(`${expected}, got ${show(v)}`);
  if (m[1]) return bad(`${what} must not be negative, got ${show(v)}`);
  const n = Number(m[2]);
  if (n > 100) return bad(`${what} must be at most 100%, got ${show(v)}`);
  return ok(n);
}

// ---------------------------------------------------------------------------------------- arguments
//
// The same grammar for what a user types on the command line (`mplab link a:eth1 --rate 20mbit`,
// `mplab run --time 2min`) and in the scripting API: a bad value throws a UsageError (exit 2) naming
// the option; "none" / "off" / "no" clear a link parameter where clearing means something.

const CLEAR = new Set(['none', 'off', 'no']);

function arg<T>(r: Parsed<T>, what: string, text: string): T {
  if (r.ok) return r.value;
  throw new UsageError(`${what} ${text}: ${r.message}`);
}

/** "20mbit", "500kbit", "1gbit" → Mbit/s; "none" → null (unlimited). */
export function rateArg(text: string, what = 'rate'): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  return arg(parseRate(text), what, text);
}

/** "10ms", "1.5s", "250us", "2min" → ms; "none" → null. */
export function timeArg(text: string, what = 'time'): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  return arg(parseTime(text), what, text);
}

/** "1%", "0.5%" → percent; "none" → null. */
export function percentArg(text: string, what = 'percentage'): number | null {
  if (CLEAR.has(text.trim().toLowerCase())) return null;
  return arg(parsePercent(text, what), what, text);
}

/** "1500b", "64kb", "64kib" → bytes. */
export function sizeArg(text: string, what = 'size'): number {
  return arg(parseSize(text), what, text);
}
