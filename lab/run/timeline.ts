/**
 * Builds a run's timeline from periodic samples, whatever produced them (agent progress
 * notifications, the simulator's connection stats, `ss` output for the kernel): cumulative bytes at
 * the sink, and per-subflow cumulative figures seen by the sink and the sender. Subflows are matched
 * across the two ends by their 4-tuple (the sender's local is the sink's remote), so throughput comes
 * from what the sink received and cwnd/RTT from the sender, whose path manager numbered the paths.
 */
import type { RunSubflow, TimelinePoint } from './result';

/** One subflow as one end sees it; bytes are cumulative (sent by a sender, received by a sink). */
export interface SubflowFigure {
  pathIndex: number;
  /** "address:port" of this end. */
  local: string;
  remote: string;
  bytes: number;
  cwnd?: number;
  srttMs?: number;
  /** Cumulative segments retransmitted (sender). */
  retransmits?: number;
  /** Cumulative data bytes reinjected on this subflow (sender, MPTCP). */
  reinjectedBytes?: number;
}

/** Connection-level figures of the sink, cumulative. */
export interface SinkConnFigure {
  /** Data-level bytes that arrived ahead of a gap. */
  oooBytes?: number;
}

/** Latest figures of one subflow, for live views: a SubflowFigure from the sender's side. */
export type LiveSubflow = SubflowFigure;

interface Track {
  key: string;
  pathIndex: number;
  /** From the sender's side: sender address:port. */
  local: string;
  remote: string;
  /** Cumulative bytes the sink saw on it (or the sender sent, without sink figures). */
  bytes: number;
  fromSink: boolean;
  lastBytes: number;
  cwnd?: number;
  srttMs?: number;
  retrans?: number;
  lastRetrans: number;
  reinjected?: number;
  lastReinjected: number;
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

export class TimelineBuilder {
  readonly points: TimelinePoint[] = [];
  private readonly tracks = new Map<string, Track>();
  private lastT = 0;
  private lastTotal = 0;
  private lastOoo = 0;

  /**
   * Adds one sample at `t` seconds since the transfer started. `sinkBytes` is the cumulative
   * application bytes at the sink. Returns the new point (Mbit/s over the interval since the last).
   */
  sample(
    t: number,
    sinkBytes: number,
    sink: readonly SubflowFigure[],
    sender: readonly SubflowFigure[],
    sinkConn: SinkConnFigure = {},
  ): TimelinePoint {
    for (const f of sender) {
      const tr = this.track(f.pathIndex, f.local, f.remote, false);
      tr.pathIndex = f.pathIndex;
      if (f.cwnd !== undefined) tr.cwnd = f.cwnd;
      if (f.srttMs !== undefined) tr.srttMs = f.srttMs;
      if (f.retransmits !== undefined) tr.retrans = Math.max(tr.retrans ?? 0, f.retransmits);
      if (f.reinjectedBytes !== undefined) tr.reinjected = Math.max(tr.reinjected ?? 0, f.reinjectedBytes);
      if (!tr.fromSink && sink.length === 0) tr.bytes = Math.max(tr.bytes, f.bytes);
    }
    for (const f of sink) {
      const tr = this.track(f.pathIndex, f.remote, f.local, true);
      tr.fromSink = true;
      tr.bytes = Math.max(tr.bytes, f.bytes);
    }
    const dt = Math.max(1e-6, t - this.lastT);
    const perPath = new Map<number, { bytes: number; cwnd?: number; srttMs?: number; retrans?: number }>();
    let retrans: number | undefined;
    let reinjected: number | undefined;
    for (const tr of this.tracks.values()) {
      const d = Math.max(0, tr.bytes - tr.lastBytes);
      tr.lastBytes = tr.bytes;
      const p = perPath.get(tr.pathIndex) ?? { bytes: 0 };
      p.bytes += d;
      if (tr.cwnd !== undefined) p.cwnd = tr.cwnd;
      if (tr.srttMs !== undefined) p.srttMs = tr.srttMs;
      if (tr.retrans !== undefined) {
        const dr = Math.max(0, tr.retrans - tr.lastRetrans);
        tr.lastRetrans = tr.retrans;
        p.retrans = (p.retrans ?? 0) + dr;
        retrans = (retrans ?? 0) + dr;
      }
      if (tr.reinjected !== undefined) {
        reinjected = (reinjected ?? 0) + Math.max(0, tr.reinjected - tr.lastReinjected);
        tr.lastReinjected = tr.reinjected;
      }
      perPath.set(tr.pathIndex, p);
    }
    const point: TimelinePoint = {
      t: r3(t),
      total: r3(((sinkBytes - this.lastTotal) * 8) / dt / 1e6),
      bytes: sinkBytes,
      subflows: [...perPath.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([pathIndex, p]) => {
          const s: TimelinePoint['subflows'][number] = { pathIndex, mbps: r3((p.bytes * 8) / dt / 1e6) };
          if (p.cwnd !== undefined) s.cwnd = p.cwnd;
          if (p.srttMs !== undefined) s.srttMs = r3(p.srttMs);
          if (p.retrans !== undefined) s.retrans = p.retrans;
          return s;
        }),
    };
    if (retrans !== undefined) point.retrans = retrans;
    if (reinjected !== undefined) point.reinjectedBytes = reinjected;
    if (sinkConn.oooBytes !== undefined) {
      point.oooBytes = Math.max(0, sinkConn.oooBytes - this.lastOoo);
      this.lastOoo = Math.max(this.lastOoo, sinkConn.oooBytes);
    }
    this.lastT = t;
    this.lastTotal = sinkBytes;
    this.points.push(point);
    return point;
  }

  /** The track of one subflow by the sender's local and remote address:port, made on first sight. */
  private track(pathIndex: number, local: string, remote: string, fromSink: boolean): Track {
    const key = `${local}|${remote}`;
    let tr = this.tracks.get(key);
    if (!tr) {
      tr = {
        key,
        pathIndex,
        local,
        remote,
        bytes: 0,
        fromSink,
        lastBytes: 0,
        lastRetrans: 0,
        lastReinjected: 0,
      };
      this.tracks.set(key, tr);
    }
    return tr;
  }

  /** The tracks in path-index order (then by 4-tuple). */
  private sortedTracks(): Track[] {
    return [...this.tracks.values()].sort((a, b) => a.pathIndex - b.pathIndex || a.key.localeCompare(b.key));
  }

  /** Every subflow seen (one per 4-tuple), in path-index order. */
  subflows(): RunSubflow[] {
    return this.sortedTracks().map((t) => ({
      pathIndex: t.pathIndex,
      local: t.local,
      remote: t.remote,
      bytes: t.bytes,
    }));
  }

  /** Latest cwnd / RTT per subflow (for live views). */
  live(): LiveSubflow[] {
    return this.sortedTracks().map((t) => {
      const o: LiveSubflow = {
        pathIndex: t.pathIndex,
        local: t.local,
        remote: t.remote,
        bytes: t.bytes,
      };
      if (t.cwnd !== undefined) o.cwnd = t.cwnd;
      if (t.srttMs !== undefined) o.srttMs = t.srttMs;
      return o;
    });
  }
}

/** Goodput of one path index over [t0, t1) seconds, from a timeline (Mbit/s, interval-weighted). */
export function pathMbpsBetween(
  timeline: readonly TimelinePoint[],
  pathIndex: number,
  t0: number,
  t1: number,
): number {
  let bits = 0;
  let secs = 0;
  let prev = 0;
  for (const p of timeline) {
    const start = prev;
    prev = p.t;
    if (start < t0 - 1e-9 || p.t > t1 + 1e-9) continue;
    const dt = p.t - start;
    bits += (p.subflows.find((s) => s.pathIndex === pathIndex)?.mbps ?? 0) * dt;
    secs += dt;
  }
  return secs > 0 ? bits / secs : 0;
}
