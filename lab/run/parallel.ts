/**
 * `--parallel N` and `--bidir` (iperf3 -P, --bidir): N connections at once from <from> to <to>,
 * and with --bidir as many the other way, all running together over the same lab. Each connection
 * is a whole single run (its own port, job, hashes and integrity verdict) by whichever driver its
 * ends need; this module starts them together and merges what they measured:
 *
 * - `connections`: every connection's own figures, integrity and timeline, in its direction;
 * - the result's timeline: the forward connections summed on connection 1's sample times (each
 *   connection's cumulative bytes, per-path bytes and counters interpolated there, on one clock);
 *   cwnd and RTT are per connection, so the merged points carry them only for N = 1;
 * - the window: from the first connect to the last write (the last byte for byte-count runs),
 *   goodput over it from the merged timeline, as for one connection (window.ts);
 * - `bidir`: the same for the reverse direction;
 * - integrity "ok" only when every connection's is.
 *
 * Scenario events are applied once, by connection 1's run. The simulator runs one connection (it
 * refuses these options): N separate simulations would not share their links.
 */
import { UsageError } from '../errors';
import type { RunConnection, RunDirection, RunResult, TimelinePoint } from './result';
import type { RunSpec } from './spec';
import type { LabRunOptions, LabRunOutput } from './ts';
import type { LiveSubflow } from './timeline';
import { bytesAt as cumulativeBytesAt, counterTotals, measureWindow } from './window';

export const MAX_PARALLEL = 32;

/** Checks --parallel / --bidir (bad values are usage errors). */
export function checkParallel(spec: Pick<RunSpec, 'parallel' | 'bidir'>): void {
  const n = spec.parallel ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARALLEL)
    throw new UsageError(`run: --parallel must be an integer from 1 to ${MAX_PARALLEL} (got ${n})`);
}

export function isMultiRun(spec: Pick<RunSpec, 'parallel' | 'bidir'>): boolean {
  return (spec.parallel ?? 1) > 1 || spec.bidir === true;
}

interface Leg {
  index: number;
  direction: 'forward' | 'reverse';
  spec: RunSpec;
  /** performance.now()/1000 at the leg's timeline origin, learnt from its first point. */
  origin?: number;
  latest?: TimelinePoint;
  out?: LabRunOutput;
  error?: unknown;
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/** A cumulative series of one additive quantity of a timeline, on the common clock. */
function cumulative(
  points: readonly TimelinePoint[],
  shift: number,
  per: (p: TimelinePoint, dt: number) => number,
) {
  const ts: number[] = [0 + shift];
  const vs: number[] = [0];
  let prev = 0;
  let acc = 0;
  for (const p of points) {
    acc += per(p, p.t - prev);
    prev = p.t;
    ts.push(p.t + shift);
    vs.push(acc);
  }
  return (t: number): number => {
    if (t <= ts[0]!) return 0;
    for (let i = 1; i < ts.length; i++) {
      if (ts[i]! >= t) {
        const t0 = ts[i - 1]!;
        const t1 = ts[i]!;
        return t1 <= t0 ? vs[i]! : vs[i - 1]! + ((vs[i]! - vs[i - 1]!) * (t - t0)) / (t1 - t0);
      }
    }
    return vs[vs.length - 1]!;
  };
}

/** Sums the legs' timelines on the first leg's sample times (all on the first leg's clock). */
export function mergeTimelines(legs: { points: readonly TimelinePoint[]; shift: number }[]): TimelinePoint[] {
  const first = legs[0];
  if (!first) return [];
  if (legs.length === 1) return first.points.map((p) => ({ ...p }));
  const grid = first.points.map((p) => p.t);
  // the grid goes on past the first leg's end when another leg ends later
  const lastEnd = Math.max(...legs.map((l) => (l.points[l.points.length - 1]?.t ?? 0) + l.shift));
  const step = grid.length > 1 ? grid[1]! - grid[0]! : 0.1;
  while ((grid[grid.length - 1] ?? 0) < lastEnd - 1e-9)
    grid.push(Math.min(lastEnd, (grid[grid.length - 1] ?? 0) + step));
  const paths = new Set<number>();
  for (const l of legs) for (const p of l.points) for (const s of p.subflows) paths.add(s.pathIndex);
  const series = legs.map((l) => ({
    bytes: cumulative(l.points, l.shift, (p, dt) => (p.total * dt * 1e6) / 8),
    hasBytes: l.points.every((p) => p.bytes !== undefined),
    retrans: l.points.some((p) => p.retrans !== undefined)
      ? cumulative(l.points, l.shift, (p) => p.retrans ?? 0)
      : undefined,
    reinj: l.points.some((p) => p.reinjectedBytes !== undefined)
      ? cumulative(l.points, l.shift, (p) => p.reinjectedBytes ?? 0)
      : undefined,
    ooo: l.points.some((p) => p.oooBytes !== undefined)
      ? cumulative(l.points, l.shift, (p) => p.oooBytes ?? 0)
      : undefined,
    path: new Map(
      [...paths].map((pi) => [
        pi,
        cumulative(
          l.points,
          l.shift,
          (p, dt) => ((p.subflows.find((s) => s.pathIndex === pi)?.mbps ?? 0) * dt * 1e6) / 8,
        ),
      ]),
    ),
  }));
  // cumulative application bytes of a leg at t: its own cumulative samples when it has them
  const bytesAt = (s: (typeof series)[number], l: (typeof legs)[number], t: number) =>
    s.hasBytes ? cumulativeBytesAt(l.points, t - l.shift) : s.bytes(t);
  const out: TimelinePoint[] = [];
  let prev = 0;
  const sum = (f: (i: number) => number) => legs.reduce((n, _l, i) => n + f(i), 0);
  for (const g of grid) {
    const dt = Math.max(1e-6, g - prev);
    const d = (fn: ((t: number) => number) | undefined) => (fn ? fn(g) - fn(prev) : 0);
    // counts: differences of the rounded cumulative counts, so the intervals add up to the total
    const dc = (fn: ((t: number) => number) | undefined) =>
      fn ? Math.round(fn(g)) - Math.round(fn(prev)) : 0;
    const bytes = sum((i) => bytesAt(series[i]!, legs[i]!, g));
    const before = sum((i) => bytesAt(series[i]!, legs[i]!, prev));
    const p: TimelinePoint = {
      t: r3(g),
      total: r3(((bytes - before) * 8) / dt / 1e6),
      bytes: Math.round(bytes),
      subflows: [...paths]
        .sort((a, b) => a - b)
        .map((pi) => ({ pathIndex: pi, mbps: r3((sum((i) => d(series[i]!.path.get(pi))) * 8) / dt / 1e6) })),
    };
    if (series.some((s) => s.retrans)) p.retrans = sum((i) => dc(series[i]!.retrans));
    if (series.some((s) => s.reinj)) p.reinjectedBytes = sum((i) => dc(series[i]!.reinj));
    if (series.some((s) => s.ooo)) p.oooBytes = sum((i) => dc(series[i]!.ooo));
    out.push(p);
    prev = g;
  }
  return out;
}

/** A leg's window times on the common clock, from its result (window.ts's definitions). */
function legTimes(r: RunResult, shift: number, timed: boolean) {
  const start = (r.startSeconds ?? 0) + shift;
  const send = r.sendSeconds ?? r.seconds;
  const drain = r.drainSeconds ?? 0;
  const endOfStream = timed ? start + send + drain : start + send;
  return { start, lastWrite: endOfStream - drain, endOfStream };
}

function connectionOf(l: Leg): RunConnection {
  const r = l.out?.result;
  if (!r) {
    const message = l.error instanceof Error ? l.error.message : String(l.error ?? 'no result');
    return {
      index: l.index,
      direction: l.direction,
      from: l.spec.from,
      to: l.spec.to,
      bytes: 0,
      seconds: 0,
      goodputMbps: 0,
      integrity: `failed: ${message}`,
      subflows: [],
      timeline: [],
    };
  }
  const c: RunConnection = {
    index: l.index,
    direction: l.direction,
    from: r.from,
    to: r.to,
    bytes: r.bytes,
    seconds: r.seconds,
    goodputMbps: r.goodputMbps,
    integrity: r.integrity,
    subflows: r.subflows,
    timeline: r.timeline,
  };
  for (const k of ['sendSeconds', 'drainSeconds', 'windowBytes', 'sha256'] as const)
    if (r[k] !== undefined) (c as unknown as Record<string, unknown>)[k] = r[k];
  return c;
}

/** One direction's merged figures. */
function direction(legs: Leg[], base: number, omitMs: number | undefined, timed: boolean): RunDirection {
  const done = legs.filter((l) => l.out);
  const shift = (l: Leg) => (l.origin ?? base) - base;
  const timeline = mergeTimelines(done.map((l) => ({ points: l.out!.result.timeline, shift: shift(l) })));
  const times = done.map((l) => legTimes(l.out!.result, shift(l), timed));
  const w = measureWindow(timeline, {
    start: Math.min(...times.map((t) => t.start), Number.POSITIVE_INFINITY) || 0,
    lastWrite: Math.max(0, ...times.map((t) => t.lastWrite)),
    endOfStream: Math.max(0, ...times.map((t) => t.endOfStream)),
    timed,
    omit: (omitMs ?? 0) / 1000,
  });
  const conns = legs.map(connectionOf);
  const bad = conns.filter((c) => c.integrity !== 'ok');
  const d: RunDirection = {
    from: legs[0]!.spec.from,
    to: legs[0]!.spec.to,
    bytes: conns.reduce((n, c) => n + c.bytes, 0),
    seconds: Math.max(0, ...conns.map((c) => c.seconds)),
    ...w,
    integrity:
      bad.length === 0
        ? 'ok'
        : bad.map((c) => `connection ${c.index} (${c.from} → ${c.to}): ${c.integrity}`).join('; '),
    subflows: conns.flatMap((c) => c.subflows),
    timeline,
  };
  const counters = counterTotals(timeline);
  if (Object.keys(counters).length > 0) d.counters = counters;
  return d;
}

/** The reverse direction's spec: <to> sends to <from>. */
function reverseSpec(spec: RunSpec): RunSpec {
  const r: RunSpec = { ...spec, from: spec.to, to: spec.from, events: [] };
  delete r.host;
  return r;
}

/**
 * Runs `spec` as parallel connections (and the reverse direction with bidir) through `runOne`
 * (one connection per call) and merges them.
 */
export async function runParallel(
  spec: RunSpec,
  options: LabRunOptions,
  runOne: (spec: RunSpec, options: LabRunOptions) => Promise<LabRunOutput>,
): Promise<LabRunOutput> {
  checkParallel(spec);
  const n = spec.parallel ?? 1;
  const basePort = spec.port ?? 20000 + Math.floor(Math.random() * 20000);
  const single: RunSpec = { ...spec, parallel: 1, bidir: false };
  const legs: Leg[] = [];
  for (let i = 0; i < n; i++)
    legs.push({
      index: i + 1,
      direction: 'forward',
      spec: { ...single, port: basePort + i, ...(i > 0 ? { events: [] } : {}) },
    });
  if (spec.bidir)
    for (let i = 0; i < n; i++)
      legs.push({
        index: n + i + 1,
        direction: 'reverse',
        spec: { ...reverseSpec(single), port: basePort + n + i },
      });
  const forward = legs.filter((l) => l.direction === 'forward');
  // the live view follows the forward direction: connection 1's points, summed over its peers'
  // latest (the final timeline is merged properly afterwards)
  const liveOf = new Map<number, LiveSubflow[]>();
  const onPoint = (leg: Leg) => (p: TimelinePoint, live: LiveSubflow[]) => {
    leg.origin ??= performance.now() / 1000 - p.t;
    leg.latest = p;
    liveOf.set(leg.index, live);
    if (leg.index !== 1 || !options.onPoint) return;
    const peers = forward.map((l) => l.latest).filter((x): x is TimelinePoint => x !== undefined);
    const byPath = new Map<number, number>();
    for (const q of peers)
      for (const s of q.subflows) byPath.set(s.pathIndex, (byPath.get(s.pathIndex) ?? 0) + s.mbps);
    const merged: TimelinePoint = {
      t: p.t,
      total: r3(peers.reduce((a, q) => a + q.total, 0)),
      subflows: [...byPath.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([pathIndex, mbps]) => ({ pathIndex, mbps: r3(mbps) })),
    };
    options.onPoint(
      merged,
      forward.flatMap((l) => liveOf.get(l.index) ?? []),
    );
  };
  await Promise.all(
    legs.map(async (leg) => {
      const o: LabRunOptions = { onPoint: onPoint(leg) };
      if (leg.index === 1 && options.onEvent) o.onEvent = options.onEvent;
      if (options.signal) o.signal = options.signal;
      if (options.reportAt !== undefined) o.reportAt = options.reportAt;
      try {
        leg.out = await runOne(leg.spec, o);
      } catch (e) {
        // a usage error is the same for every connection: report it as such
        if (e instanceof UsageError) throw e;
        leg.error = e;
      }
    }),
  );
  const first = legs.find((l) => l.out);
  if (!first) throw legs[0]?.error ?? new Error('run: no connection produced a result');
  const base = forward[0]?.origin ?? first.origin ?? 0;
  const timed = spec.bytes === undefined;
  const fwd = direction(forward, base, spec.omitMs, timed);
  const r0 = first.out!.result;
  const result: RunResult = {
    ...r0,
    from: spec.from,
    to: spec.to,
    bytes: fwd.bytes,
    seconds: fwd.seconds,
    goodputMbps: fwd.goodputMbps,
    sendSeconds: fwd.sendSeconds,
    drainSeconds: fwd.drainSeconds,
    omitSeconds: fwd.omitSeconds,
    windowBytes: fwd.windowBytes,
    startSeconds: fwd.startSeconds,
    integrity: fwd.integrity,
    subflows: fwd.subflows,
    timeline: fwd.timeline,
    parallel: n,
    connections: legs.map(connectionOf),
  };
  delete result.sha256;
  if (fwd.counters) result.counters = fwd.counters;
  else delete result.counters;
  if (spec.bidir) {
    const back = direction(
      legs.filter((l) => l.direction === 'reverse'),
      base,
      spec.omitMs,
      timed,
    );
    result.bidir = back;
    if (back.integrity !== 'ok')
      result.integrity =
        result.integrity === 'ok'
          ? `reverse: ${back.integrity}`
          : `${result.integrity}; reverse: ${back.integrity}`;
  }
  const notes = new Set<string>();
  for (const l of legs) for (const x of l.out?.result.notes ?? []) notes.add(x);
  if (notes.size > 0) result.notes = [...notes];
  else delete result.notes;
  return { result, reports: first.out!.reports };
}
