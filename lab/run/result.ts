/**
 * What one traffic run produces, whatever ran it (our stack through the agents, the kernel's MPTCP,
 * plain kernel TCP, or the simulator with --sim). `mplab run --json` prints exactly this; campaigns
 * store one per run; plots read it.
 */

export type RunStack = 'ts' | 'kernel' | 'tcp';

export interface RunSubflow {
  /** 1 = the master subflow; others as the path manager numbered them. */
  pathIndex: number;
  /** "address:port" of each end. */
  local: string;
  remote: string;
  /** Payload bytes this subflow carried for the transfer. */
  bytes: number;
}

export interface TimelinePoint {
  /** Seconds since the transfer started (end of the interval). */
  t: number;
  /** Goodput over the interval, Mbit/s. */
  total: number;
  subflows: { pathIndex: number; mbps: number; cwnd?: number; srttMs?: number }[];
}

export interface RunEvent {
  /** Seconds since the transfer started, when it was applied. */
  t: number;
  /** Human-readable, e.g. "link client:wifi down". */
  what: string;
  /** Seconds it was scheduled for (t - at = how late it fired). */
  at?: number;
}

export interface RunResult {
  lab: string;
  from: string;
  to: string;
  stack: RunStack;
  /** True when the deterministic simulator produced it. */
  sim: boolean;
  seed?: number;
  /** Application bytes received intact at the sink. */
  bytes: number;
  seconds: number;
  goodputMbps: number;
  /** "ok", or what went wrong (hash mismatch, short transfer, connection error). */
  integrity: 'ok' | string;
  subflows: RunSubflow[];
  timeline: TimelinePoint[];
  events: RunEvent[];
  /** Knob values in force on the sender and receiver during the run. */
  knobs?: Record<string, Record<string, string | number>>;
  versions?: { mplab: string; node: string; kernel: string };
  startedAt?: string;
  /** SHA-256 (hex) of the bytes the sender sent, when integrity is ok. */
  sha256?: string;
  /** Anything the reader should know about how the run was made (e.g. a stand-in in --sim). */
  notes?: string[];
}

/**
 * Every distinct path index in a run, in ascending order. Path indices start at 1 (the master);
 * a 0 stands for bytes not attributed to a subflow and is no path of its own.
 */
export function pathIndices(result: Pick<RunResult, 'timeline' | 'subflows'>): number[] {
  const set = new Set<number>();
  for (const s of result.subflows) set.add(s.pathIndex);
  for (const p of result.timeline) for (const s of p.subflows) set.add(s.pathIndex);
  set.delete(0);
  return [...set].sort((a, b) => a - b);
}
