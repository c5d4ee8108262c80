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
  /** Application goodput over the interval: in-order bytes delivered to the sink's application, Mbit/s. */
  total: number;
  /** Cumulative application bytes at the sink at `t`. */
  bytes?: number;
  /** Segments retransmitted by the sender's subflows during the interval. */
  retrans?: number;
  /** Data bytes the sender reinjected (re-sent on another subflow) during the interval (MPTCP). */
  reinjectedBytes?: number;
  /** Data-level bytes that arrived at the sink ahead of a gap during the interval (MPTCP). */
  oooBytes?: number;
  /** True when the interval lies (partly) in the --omit period and is left out of the figures. */
  omitted?: boolean;
  /**
   * Per subflow: `mbps` is the wire rate of payload the subflow carried (what the sink received on
   * it, retransmissions and data the application already had included), not application goodput.
   */
  subflows: {
    pathIndex: number;
    mbps: number;
    cwnd?: number;
    srttMs?: number;
    /** Segments this subflow retransmitted during the interval. */
    retrans?: number;
  }[];
}

export interface RunEvent {
  /** Seconds since the transfer started, when it was applied. */
  t: number;
  /** Human-readable, e.g. "link client:wifi down". */
  what: string;
  /** Seconds it was scheduled for (t - at = how late it fired). */
  at?: number;
}

/** One end of a run: its role, whether it opened the connection, and the stack it ran. */
export interface RunEnd {
  node: string;
  role: 'sender' | 'receiver';
  /** True for the end that connected (the command's <from>), false for the one that accepted. */
  opened: boolean;
  /** ts: our stack (agent); kernel: the kernel's MPTCP; tcp: plain kernel TCP. */
  stack: RunStack;
}

export interface RunResult {
  lab: string;
  /** The node that opened the connection; the sender unless `reverse`. */
  from: string;
  /** The node that accepted it; the receiver unless `reverse`. */
  to: string;
  /** The stack asked for (`--stack`); in a mixed-stack run `ends` says what each end ran. */
  stack: RunStack;
  /** True when <to> sent to <from> over the connection <from> opened (`--reverse`). */
  reverse?: boolean;
  /** Both ends: role, who opened the connection, which stack. */
  ends?: RunEnd[];
  /** True when the deterministic simulator produced it. */
  sim: boolean;
  seed?: number;
  /** Application bytes received intact at the sink (the whole transfer, drain included). */
  bytes: number;
  /** From the start of the transfer to the sink's end of stream (drain included). */
  seconds: number;
  /**
   * Application goodput over the measured window, Mbit/s: bytes that reached the sink's application
   * between `omitSeconds` and the end of the sending window, divided by that span (see docs/run.md).
   */
  goodputMbps: number;
  /** When the (first) connection was established, on the timeline's clock: the window starts here. */
  startSeconds?: number;
  /** The sending window: from the start to the sender's last write (bytes runs: to the last byte at the sink). */
  sendSeconds?: number;
  /** After the sending window, until the sink saw the end of the stream (not in goodputMbps). */
  drainSeconds?: number;
  /** The first seconds left out of goodputMbps (--omit). */
  omitSeconds?: number;
  /** Application bytes that arrived within the measured window. */
  windowBytes?: number;
  /** Retransmitted segments, reinjected bytes and data-level out-of-order bytes over the whole run. */
  counters?: { retrans?: number; reinjectedBytes?: number; oooBytes?: number };
  /** --parallel: how many connections ran each way; then `connections` has each one's figures. */
  parallel?: number;
  connections?: RunConnection[];
  /** --bidir: the reverse direction (<to> sending to <from>), merged the same way. */
  bidir?: RunDirection;
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

/** One connection of a --parallel / --bidir run: its own figures and verdict. */
export interface RunConnection {
  /** 1..N forward, N+1..2N reverse. */
  index: number;
  direction: 'forward' | 'reverse';
  from: string;
  to: string;
  bytes: number;
  seconds: number;
  goodputMbps: number;
  sendSeconds?: number;
  drainSeconds?: number;
  windowBytes?: number;
  integrity: 'ok' | string;
  sha256?: string;
  subflows: RunSubflow[];
  timeline: TimelinePoint[];
}

/** One direction of a --bidir run, its connections merged (lab/run/parallel.ts). */
export interface RunDirection {
  from: string;
  to: string;
  bytes: number;
  seconds: number;
  goodputMbps: number;
  startSeconds: number;
  sendSeconds: number;
  drainSeconds: number;
  omitSeconds: number;
  windowBytes: number;
  integrity: 'ok' | string;
  subflows: RunSubflow[];
  timeline: TimelinePoint[];
  counters?: RunResult['counters'];
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

const STACK_LABEL: Record<RunStack, string> = {
  ts: 'our stack',
  kernel: "the kernel's MPTCP",
  tcp: 'plain TCP',
};

/** The sending and receiving node of a result (with --reverse <to> sent). */
export function flowOf(r: Pick<RunResult, 'from' | 'to' | 'reverse'>): { sender: string; receiver: string } {
  return r.reverse ? { sender: r.to, receiver: r.from } : { sender: r.from, receiver: r.to };
}

/**
 * One line saying who opened the connection, who sent, and which stack each end ran, e.g.
 * "client opened the connection and received (our stack); server accepted it and sent (our stack)".
 */
export function describeEnds(r: Pick<RunResult, 'from' | 'to' | 'reverse' | 'ends' | 'stack'>): string {
  const ends = r.ends ?? [
    { node: r.from, role: r.reverse ? 'receiver' : 'sender', opened: true, stack: r.stack },
    { node: r.to, role: r.reverse ? 'sender' : 'receiver', opened: false, stack: r.stack },
  ];
  return ends
    .map(
      (e) =>
        `${e.node} ${e.opened ? 'opened the connection' : 'accepted it'} and ${e.role === 'sender' ? 'sent' : 'received'} (${STACK_LABEL[e.stack]})`,
    )
    .join('; ');
}
