/**
 * The knob registry: /proc/sys-style names (net.mptcp.*, net.ipv4.tcp_*), each with a type, a
 * range or an enumeration, a default, a description and validation. One registry per stack
 * instance; listeners hear every change. Values apply to new connections; the MPTCP host also
 * applies `mptcp_scheduler` and `mptcp_cc` to live connections (see `liveKnobs`).
 */

import { editDistance } from './suggest';

export type KnobValue = number | string;

interface KnobBase {
  name: string;
  description: string;
  /** True when a change also affects connections that already exist. */
  live: boolean;
}

export interface IntKnob extends KnobBase {
  type: 'int';
  min: number;
  max: number;
  default: number;
  /** Extra values allowed outside [min, max] (e.g. 0 = "per path" for mptcp_mss). */
  special?: readonly number[];
  unit?: string;
}

export interface EnumKnob extends KnobBase {
  type: 'enum';
  values: readonly string[];
  default: string;
}

/** A triple of integers like net.ipv4.tcp_rmem: "min default max". */
export interface TripleKnob extends KnobBase {
  type: 'triple';
  min: number;
  max: number;
  default: readonly [number, number, number];
  unit?: string;
}

export type KnobSpec = IntKnob | EnumKnob | TripleKnob;

export const KNOBS: readonly KnobSpec[] = [
  {
    name: 'net.mptcp.mptcp_enabled',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: false,
    description: 'Global MPTCP switch: 0 = plain TCP only (no MP_CAPABLE offered or accepted).',
  },
  {
    name: 'net.mptcp.mptcp_ndiffports',
    type: 'int',
    min: 1,
    max: 32,
    default: 1,
    live: false,
    description: 'Subflows the ndiffports (multiport) path manager opens over one address pair.',
  },
  {
    name: 'net.mptcp.mptcp_mss',
    type: 'int',
    min: 536,
    max: 65495,
    special: [0],
    default: 0,
    unit: 'bytes',
    live: false,
    description: 'Shared MSS forced on every subflow; 0 = each subflow uses its own path MSS.',
  },
  {
    name: 'net.mptcp.mptcp_checksum',
    type: 'int',
    min: 0,
    max: 1,
    default: 0,
    live: false,
    description: 'Request the DSS checksum (RFC 8684 3.3.1); used when either side asks for it.',
  },
  {
    name: 'net.mptcp.mptcp_path_manager',
    type: 'enum',
    values: ['default', 'fullmesh', 'ndiffports'],
    default: 'fullmesh',
    live: false,
    description:
      'Path manager: fullmesh (all address pairs), ndiffports (N ports, one pair), default (none).',
  },
  {
    name: 'net.mptcp.mptcp_scheduler',
    type: 'enum',
    values: ['default', 'roundrobin', 'redundant'],
    default: 'default',
    live: true,
    description: 'Packet scheduler: default (lowest RTT with cwnd room), roundrobin, redundant.',
  },
  {
    name: 'net.mptcp.mptcp_sched_slow_queue',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: true,
    description:
      'Default scheduler: cap bytes in flight on a slower subflow near its bandwidth-delay product (its queue only adds delay).',
  },
  {
    name: 'net.mptcp.mptcp_sched_blest',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: true,
    description:
      'Default scheduler: BLEST, skip a slower subflow when sending there would block the fastest by the receive window.',
  },
  {
    name: 'net.mptcp.mptcp_opportunistic_retrans',
    type: 'int',
    min: 0,
    max: 3,
    default: 2,
    live: true,
    description:
      'Opportunistic retransmission when the window blocks: 0 off, 1 retransmit, 2 also penalize the slow subflow, 3 also when the send buffer blocks.',
  },
  {
    name: 'net.mptcp.mptcp_hole_reinject',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: true,
    description:
      'Hole repair: when a much slower subflow holding the data-level left edge is in loss recovery, send what it holds again on a faster one.',
  },
  {
    name: 'net.mptcp.mptcp_cc',
    type: 'enum',
    values: ['lia', 'olia', 'balia', 'reno', 'cubic'],
    default: 'lia',
    live: true,
    description: 'Congestion control of MPTCP subflows: coupled lia/olia/balia or uncoupled reno/cubic.',
  },
  {
    name: 'net.mptcp.mptcp_allow_join_initial_addr_port',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: false,
    description:
      'Accept joins to the address and port a connection started on (0 = set the C flag, refuse them).',
  },
  {
    name: 'net.mptcp.mptcp_syn_retries',
    type: 'int',
    min: 0,
    max: 10,
    default: 2,
    live: false,
    description: 'SYN retransmissions carrying MP_CAPABLE before falling back to a plain TCP SYN.',
  },
  {
    name: 'net.mptcp.mptcp_add_addr_timeout',
    type: 'int',
    min: 0,
    max: 3_600_000,
    default: 2000,
    unit: 'ms',
    live: false,
    description: 'Retransmission interval of an ADD_ADDR not yet echoed (0 = never retransmit).',
  },
  {
    name: 'net.mptcp.mptcp_trigger_bytes',
    type: 'int',
    min: 0,
    max: 2 ** 40,
    default: 0,
    unit: 'bytes',
    live: false,
    description: 'Open extra subflows only after this many bytes moved on the connection (0 = at once).',
  },
  {
    name: 'net.mptcp.mptcp_trigger_ms',
    type: 'int',
    min: 0,
    max: 3_600_000,
    default: 0,
    unit: 'ms',
    live: false,
    description: 'Open extra subflows only after the connection lived this long (0 = at once).',
  },
  {
    name: 'net.ipv4.tcp_rmem',
    type: 'triple',
    min: 4096,
    max: 1 << 30,
    default: [4096, 131072, 6291456],
    unit: 'bytes',
    live: false,
    description: 'Receive buffer: min default max (the connection-level receive window for MPTCP).',
  },
  {
    name: 'net.ipv4.tcp_wmem',
    type: 'triple',
    min: 4096,
    max: 1 << 30,
    default: [4096, 16384, 4194304],
    unit: 'bytes',
    live: false,
    description: 'Send buffer: min default max (the shared send buffer for MPTCP).',
  },
  {
    name: 'net.ipv4.tcp_congestion_control',
    type: 'enum',
    values: ['reno', 'cubic'],
    default: 'cubic',
    live: false,
    description: 'Congestion control of plain TCP connections (and of MPTCP after fallback).',
  },
  {
    name: 'net.ipv4.tcp_sack',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: false,
    description: 'Offer and use SACK (RFC 2018).',
  },
  {
    name: 'net.ipv4.tcp_timestamps',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: false,
    description: 'Offer and use timestamps (RFC 7323).',
  },
  {
    name: 'net.ipv4.tcp_window_scaling',
    type: 'int',
    min: 0,
    max: 1,
    default: 1,
    live: false,
    description: 'Offer and use window scaling (RFC 7323).',
  },
  {
    name: 'net.ipv4.tcp_syn_retries',
    type: 'int',
    min: 1,
    max: 127,
    default: 6,
    live: false,
    description: 'SYN retransmissions of an active open before it fails with ETIMEDOUT.',
  },
  {
    name: 'net.ipv4.tcp_rto_min_ms',
    type: 'int',
    min: 1,
    max: 120_000,
    default: 200,
    unit: 'ms',
    live: false,
    description: 'Lower bound of the retransmission timeout (RFC 6298 recommends 1 s; Linux uses 200 ms).',
  },
  {
    name: 'net.ipv4.tcp_fin_timeout',
    type: 'int',
    min: 0,
    max: 600_000,
    default: 60_000,
    unit: 'ms',
    live: false,
    description: 'TIME_WAIT duration (2 MSL).',
  },
];

export class SysctlError extends Error {
  readonly code: 'ENOENT' | 'EINVAL';
  constructor(code: 'ENOENT' | 'EINVAL', message: string) {
    super(message);
    this.name = 'SysctlError';
    this.code = code;
  }
}

export type KnobListener = (name: string, value: KnobValue, previous: KnobValue) => void;

function shortName(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? name : name.slice(i + 1);
}

/** Accepts "net.mptcp.x", "net/mptcp/x", "/proc/sys/net/mptcp/x". */
export function normalizeKnobName(name: string): string {
  let n = name.trim();
  if (n.startsWith('/proc/sys/')) n = n.slice('/proc/sys/'.length);
  return n.replaceAll('/', '.');
}

export function describeAllowed(spec: KnobSpec): string {
  switch (spec.type) {
    case 'int': {
      const special = spec.special?.length ? ` or ${spec.special.join(', ')}` : '';
      return `an integer in ${spec.min}..${spec.max}${special}${spec.unit ? ` (${spec.unit})` : ''}`;
    }
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'triple':
      return `three integers "min default max" in ${spec.min}..${spec.max}, min <= default <= max`;
  }
}

function formatValue(v: KnobValue | readonly number[]): string {
  return Array.isArray(v) ? v.join(' ') : String(v);
}

export class Sysctl {
  private readonly specs = new Map<string, KnobSpec>();
  private readonly values = new Map<string, KnobValue>();
  private readonly listeners = new Set<KnobListener>();

  constructor(initial?: Record<string, KnobValue>) {
    for (const k of KNOBS) {
      this.specs.set(k.name, k);
      this.values.set(k.name, formatDefault(k));
    }
    if (initial) for (const [name, v] of Object.entries(initial)) this.set(name, v);
  }

  /** Every knob name, sorted. */
  names(): string[] {
    return [...this.specs.keys()].sort();
  }

  spec(name: string): KnobSpec {
    const n = normalizeKnobName(name);
    const s = this.specs.get(n);
    if (!s) throw this.unknown(name);
    return s;
  }

  has(name: string): boolean {
    return this.specs.has(normalizeKnobName(name));
  }

  /** The current value: a number for int knobs, a string for enum and triple knobs. */
  get(name: string): KnobValue {
    const spec = this.spec(name);
    return this.values.get(spec.name)!;
  }

  getInt(name: string): number {
    const v = this.get(name);
    if (typeof v !== 'number') throw new SysctlError('EINVAL', `${name} is not an integer knob`);
    return v;
  }

  getString(name: string): string {
    return String(this.get(name));
  }

  getTriple(name: string): [number, number, number] {
    const spec = this.spec(name);
    if (spec.type !== 'triple') throw new SysctlError('EINVAL', `${name} is not a triple knob`);
    const parts = String(this.values.get(spec.name)).split(' ').map(Number);
    return [parts[0]!, parts[1]!, parts[2]!];
  }

  /** Validates and sets; throws SysctlError naming valid names or the allowed values. */
  set(name: string, value: KnobValue | readonly number[]): KnobValue {
    const spec = this.spec(name);
    const v = validate(spec, value);
    const prev = this.values.get(spec.name)!;
    if (prev === v) return v;
    this.values.set(spec.name, v);
    for (const l of this.listeners) l(spec.name, v, prev);
    return v;
  }

  /** Back to the default value. */
  reset(name: string): KnobValue {
    const spec = this.spec(name);
    return this.set(spec.name, formatDefault(spec));
  }

  /** Every knob with its value, as `sysctl -a` would print them. */
  list(): { name: string; value: KnobValue; default: KnobValue; allowed: string; description: string }[] {
    return this.names().map((n) => {
      const s = this.specs.get(n)!;
      return {
        name: n,
        value: this.values.get(n)!,
        default: formatDefault(s),
        allowed: describeAllowed(s),
        description: s.description,
      };
    });
  }

  snapshot(): Record<string, KnobValue> {
    const out: Record<string, KnobValue> = {};
    for (const n of this.names()) out[n] = this.values.get(n)!;
    return out;
  }

  /** Listen to every change; returns an unsubscribe function. */
  onChange(listener: KnobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private unknown(name: string): SysctlError {
    const n = normalizeKnobName(name);
    const scored = this.names()
      .map((k) => ({ k, d: Math.min(editDistance(n, k), editDistance(shortName(n), shortName(k))) }))
      .sort((a, b) => a.d - b.d);
    const best = scored[0];
    const hint =
      best && best.d <= Math.max(2, Math.floor(shortName(n).length / 3)) ? ` Did you mean ${best.k}?` : '';
    return new SysctlError(
      'ENOENT',
      `unknown knob "${name}".${hint} Valid names: ${this.names().join(', ')}`,
    );
  }
}

function formatDefault(spec: KnobSpec): KnobValue {
  return spec.type === 'triple' ? formatValue(spec.default) : spec.default;
}

function parseIntStrict(value: KnobValue): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  const t = value.trim();
  if (!/^-?\d+$/.test(t)) return undefined;
  return Number(t);
}

function validate(spec: KnobSpec, value: KnobValue | readonly number[]): KnobValue {
  const bad = () =>
    new SysctlError(
      'EINVAL',
      `invalid value "${formatValue(value as KnobValue)}" for ${spec.name}: expected ${describeAllowed(spec)}`,
    );
  switch (spec.type) {
    case 'int': {
      if (Array.isArray(value)) throw bad();
      const n = parseIntStrict(value as KnobValue);
      if (n === undefined) throw bad();
      if ((n < spec.min || n > spec.max) && !spec.special?.includes(n)) throw bad();
      return n;
    }
    case 'enum': {
      if (Array.isArray(value)) throw bad();
      const s = String(value).trim();
      if (!spec.values.includes(s)) throw bad();
      return s;
    }
    case 'triple': {
      const parts = Array.isArray(value)
        ? (value as readonly number[]).map((x) => parseIntStrict(x))
        : String(value)
            .trim()
            .split(/\s+/)
            .map((x) => parseIntStrict(x));
      if (parts.length !== 3 || parts.some((p) => p === undefined)) throw bad();
      const [a, b, c] = parts as [number, number, number];
      if (a < spec.min || c > spec.max || a > b || b > c) throw bad();
      return `${a} ${b} ${c}`;
    }
  }
}
