/**
 * The TCP control block: one TCP connection or MPTCP subflow, sans-I/O.
 *
 * RFC 9293 state machine (LISTEN is the host's: a passive TCB starts from `acceptSyn`), RFC 5961
 * (challenge ACKs for in-window RST/SYN, rate limited), RFC 7323 (window scale, timestamps, PAWS,
 * RTTM), RFC 2018 SACK and RFC 6675 SACK-based recovery (NewReno, RFC 6582, when the peer has no
 * SACK), RFC 6298 RTO (Karn, backoff, floor and ceiling), delayed ACKs with quick ACKs at start,
 * zero-window probes (persist timer), keepalive, user timeout, TIME_WAIT. Beyond the letter of
 * those: lost retransmissions are detected by transmission order (no RTO needed), spurious fast
 * retransmits are undone by timestamps (Eifel, RFC 3522) and raise the duplicate-ACK threshold
 * (reordering), Proportional Rate Reduction (RFC 6937) paces SACK recovery, tail loss probes
 * (RFC 8985 §7) repair a lost last segment within ~2 RTT, and
 * SYN-cookie passive opens are accepted (`acceptCookie`, used by the host).
 *
 * Driving it: `input(seg, now)`, `advance(now)` when `nextDeadline()` is due, user calls
 * (`output`, `close`, `abort`, `windowOpened`). Segments to send accumulate in `outbox` (drained
 * with `takeOutput()`), addressed by the owner (the host knows the 4-tuple). Payloads of data
 * segments are views into the retransmission store: encode (or copy) them before the next call
 * into the TCB.
 *
 * ── Hooks for the MPTCP layer ─────────────────────────────────────────────────────────────────
 * `TcbHooks` (all optional) and the pluggable `TcbSource` / `TcbSink`:
 *
 * - hooks.outgoing(tcb, seg, room, info): called for EVERY segment built (SYN, SYN/ACK, ACK, data,
 *   FIN, RST, probes) after the TCB placed its own mandatory options (MSS/WS/SACK-permitted on
 *   SYNs, timestamps). Push options onto `seg.options`; `room` is the option space left (bytes,
 *   padded as stack/wire/tcp.ts lays them out). SACK blocks are added AFTER the hook, in whatever
 *   room remains: MPTCP options take priority over SACK blocks. `info` (one object reused per TCB,
 *   copy what you keep) tells the kind of segment and, for data, the subflow sequence range, the
 *   source's tag of those bytes and the run of bytes pulled with that tag (`tagSeq`, `tagLen`:
 *   one run per `pull` call): a DSS mapping can be rebuilt identically on every (re)transmission.
 * - hooks.incoming(tcb, seg, now): sees every segment that passed the acceptability checks, before
 *   its ACK and data are processed; also the SYN that created a passive TCB and the SYN/ACK of an
 *   active one. Returning false on a SYN or SYN/ACK refuses it: the TCB sends RST (with options from
 *   hooks.outgoing, info.kind === 'rst') and closes with error 'ECONNREFUSED'/'EREFUSED'. Returning
 *   false on other segments drops the segment silently. hooks.processed(tcb, seg, now) runs after
 *   the segment was fully processed (data delivered, ACKs queued): a place to send data ACKs.
 * - setCongestionControl(name | factory, group?) swaps the algorithm on a live subflow; `ccGroup`
 *   (constructor option) lists the connection's subflows for coupled algorithms.
 * - hooks.onEstablished / onPeerFin / onClosed / onAcked / onLoss / onRto / onStateChange: events.
 *   onAcked(bytes) fires on every cumulative advance (data bytes only); onLoss(seq) when fast
 *   retransmit starts, onRto(backoff) on every retransmission timeout — for reinjection.
 * - source.pull(tcb, maxBytes, out): when the TCB has cwnd and peer-window room, it asks its source
 *   for at most maxBytes new bytes, which the source appends to `out` (the TCB's retransmission
 *   store). It returns an opaque tag kept with those bytes (undefined for plain TCP). A segment never
 *   spans two tagged chunks. `available(tcb)` says how many bytes the source could give now.
 * - sink.deliver(tcb, data, seq, now): bytes in order at this level, handed out at once (the view may
 *   alias an input buffer: copy to keep beyond the call). `seq` is the subflow sequence number of
 *   data[0]. sink.window(tcb) is the receive window to advertise (the connection-level one for
 *   MPTCP); the TCB caps it to its reassembly store and never shrinks an advertised right edge.
 * - sendAck(now) sends a bare ACK now; abort(now, options?) sends RST carrying extra options (e.g.
 *   MP_TCPRST); stats() and the ccView (CcSubflowView) give cwnd, ssthresh, srtt, inflight, bytes.
 */
import { type CcGroup, type CcSubflowView, type CongestionControl, getCcFactory } from '../cc/index';
import type { CcFactory } from '../cc/types';
import { optionsLength } from '../wire/tcp';
import type { SackBlock, TcpOption, TcpSegment } from '../wire/types';
import { ByteRing, WindowStore } from './ring';
import { F_EVER_REXMIT, F_FIN, F_LOST, F_REXMIT, F_SACKED as F_SACKED_BIT, Scoreboard } from './scoreboard';
import * as Seq from './seq';

// Bound once at load: per-segment code then calls plain functions, not module-namespace getters
// (some loaders compile imports to getter accesses).
const seqAdd = Seq.seqAdd;
const seqGeq = Seq.seqGeq;
const seqGt = Seq.seqGt;
const seqLeq = Seq.seqLeq;
const seqLt = Seq.seqLt;
const seqMax = Seq.seqMax;
const seqSub = Seq.seqSub;
// TCP flag bits (as in stack/wire/types.ts), local for the same reason.
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
const MAX_OPTION_SPACE = 40;

export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  FIN_WAIT_1: 5,
  FIN_WAIT_2: 6,
  CLOSE_WAIT: 7,
  CLOSING: 8,
  LAST_ACK: 9,
  TIME_WAIT: 10,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const STATE_NAMES = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RECEIVED',
  'ESTABLISHED',
  'FIN_WAIT_1',
  'FIN_WAIT_2',
  'CLOSE_WAIT',
  'CLOSING',
  'LAST_ACK',
  'TIME_WAIT',
] as const;

export interface TcbConfig {
  /** MSS we announce (bytes of payload per segment we can take). Default 1460. */
  mss: number;
  /** Reassembly store and largest receive window we advertise. Default 1 MiB. */
  rcvBuf: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
  /** RFC 6298 bounds and initial value, ms. Defaults 200 / 120000 / 1000. */
  rtoMin: number;
  rtoMax: number;
  rtoInitial: number;
  /** Delayed-ACK timeout, ms (≤ 40 by default) and quick ACKs at the start. */
  delAckMs: number;
  quickAcks: number;
  /** 2 MSL, ms. Default 60000. */
  timeWaitMs: number;
  /** FIN_WAIT_2 timeout after our FIN was acknowledged, ms; 0 = none (the default: half-close). */
  finWait2Ms: number;
  synRetries: number;
  /** Retransmissions of data before giving up (RFC 9293 R2). */
  dataRetries: number;
  /** Abort when data stays unacknowledged this long (ms); 0 = off (RFC 5482 user timeout). */
  userTimeoutMs: number;
  /** Keepalive: idle ms before the first probe, interval, probe count; idle 0 = off. */
  keepaliveIdleMs: number;
  keepaliveIntervalMs: number;
  keepaliveProbes: number;
  /** Challenge ACKs per second per connection (RFC 5961 §7). */
  challengeAckLimit: number;
  dupThresh: number;
  initialWindowSegments: number;
  /** Congestion control: a registered name or a factory. */
  cc: string | CcFactory;
  /** Option bytes to leave for the hook on data segments: data payload is mss − this. */
  mssReserve: number;
  /** Tail loss probes (RFC 8985 §7) with SACK: a lost last segment is repaired without an RTO. */
  tlp: boolean;
  /** Proportional Rate Reduction (RFC 6937) paces sending during SACK recovery. */
  prr: boolean;
}

export const DEFAULT_TCB_CONFIG: TcbConfig = {
  mss: 1460,
  rcvBuf: 1 << 20,
  windowScaling: true,
  timestamps: true,
  sack: true,
  rtoMin: 200,
  rtoMax: 120_000,
  rtoInitial: 1000,
  delAckMs: 40,
  quickAcks: 16,
  timeWaitMs: 60_000,
  finWait2Ms: 0,
  synRetries: 6,
  dataRetries: 15,
  userTimeoutMs: 0,
  keepaliveIdleMs: 0,
  keepaliveIntervalMs: 75_000,
  keepaliveProbes: 9,
  challengeAckLimit: 10,
  dupThresh: 3,
  initialWindowSegments: 10,
  cc: 'cubic',
  mssReserve: 0,
  tlp: true,
  prr: true,
};

/** Describes the segment a hook is decorating. One object per TCB, reused: copy what you keep. */
export interface OutInfo {
  kind: 'syn' | 'synack' | 'ack' | 'data' | 'fin' | 'rst' | 'probe';
  /** Subflow sequence number of the first payload byte (or of the segment). */
  seq: number;
  /** Payload bytes. */
  len: number;
  /** The source's tag of those bytes (undefined for plain TCP or no payload). */
  tag: unknown;
  /** Subflow sequence number where the tagged chunk starts. */
  tagSeq: number;
  /** Bytes in the tagged chunk. */
  tagLen: number;
  retransmit: boolean;
}

export interface TcbSource {
  /** Bytes the source could hand out now. */
  available(tcb: Tcb): number;
  /** Appends at most `maxBytes` to `out`; returns the tag of those bytes. */
  pull(tcb: Tcb, maxBytes: number, out: ByteRing): unknown;
}

export interface TcbSink {
  deliver(tcb: Tcb, data: Uint8Array, seq: number, now: number): void;
  /** Bytes the receiver can take beyond what it was given: the window to advertise. */
  window(tcb: Tcb): number;
}

export interface CloseError {
  code: string;
  message: string;
}

export interface TcbHooks {
  outgoing?(tcb: Tcb, seg: TcpSegment, room: number, info: OutInfo): void;
  incoming?(tcb: Tcb, seg: TcpSegment, now: number): boolean;
  /** After a segment was fully processed (ACK, data, FIN) and the TCB's answers were queued. */
  processed?(tcb: Tcb, seg: TcpSegment, now: number): void;
  onEstablished?(tcb: Tcb, now: number): void;
  onPeerFin?(tcb: Tcb, now: number): void;
  /** The connection is over for its user (TIME_WAIT, CLOSED, reset, timeout). Fires once. */
  onClosed?(tcb: Tcb, error: CloseError | undefined, now: number): void;
  onAcked?(tcb: Tcb, bytes: number, now: number): void;
  onLoss?(tcb: Tcb, seq: number, now: number): void;
  onRto?(tcb: Tcb, backoff: number, now: number): void;
  onStateChange?(tcb: Tcb, from: TcpState, to: TcpState, now: number): void;
}

export interface TcbStats {
  state: string;
  mss: number;
  cwnd: number;
  ssthresh: number;
  srttMs: number;
  rttvarMs: number;
  rtoMs: number;
  bytesInFlight: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  segmentsSent: number;
  segmentsReceived: number;
  retransmits: number;
  fastRetransmits: number;
  rtoCount: number;
  challengeAcks: number;
  pawsDrops: number;
  sndWnd: number;
  rcvWnd: number;
}

const NO_DEADLINE = Number.POSITIVE_INFINITY;
const MAX_WIN_SHIFT = 14;

/** Who we are on the wire; the host fills addresses when it encodes. */
export interface TcbEndpoints {
  localPort: number;
  remotePort: number;
}

export class Tcb implements CcSubflowView {
  state: TcpState = TcpState.CLOSED;
  readonly cfg: TcbConfig;
  readonly localPort: number;
  readonly remotePort: number;
  /** Opaque slot for the owner (host connection, MPTCP subflow). */
  owner: unknown;

  outbox: TcpSegment[] = [];
  hooks: TcbHooks;
  source: TcbSource;
  sink: TcbSink;
  cc: CongestionControl;
  /** The subflows of this connection as coupled congestion control sees them. */
  ccGroup: CcGroup;

  // Send sequence space.
  readonly iss: number;
  sndUna: number;
  sndNxt: number;
  /** Highest sequence number sent + 1 (RFC 6675 HighData). */
  sndMax: number;
  sndWnd = 0;
  maxSndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  sndWscale = 0;
  /** Retransmission store: bytes from sndUna (after the SYN) up. */
  /** Grows on demand: a half-open or idle connection holds little memory (SYN floods). */
  readonly sndRing = new ByteRing(4 * 1024);
  readonly board = new Scoreboard();
  private finQueued = false;
  private finSent = false;
  private finSeq = 0;
  // Chunk tags (parallel deques): start seq and tag of each pulled chunk still unacknowledged.
  private chunkSeq: number[] = doubleArray();
  private chunkTag: unknown[] = [];
  private chunkHead = 0;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised. */
  rcvAdv = 0;
  rcvWscale = 0;
  /** Out-of-order bytes; allocated on the first out-of-order segment. */
  private rcvStore: WindowStore | null = null;
  /** Out-of-order intervals [start, end) above rcvNxt, sorted, non-overlapping. */
  private oooStart: number[] = doubleArray();
  private oooEnd: number[] = doubleArray();
  /** Index of the interval touched last (first SACK block), -1 if none. */
  private oooLast = -1;
  private rcvFinSeq = -1;
  private peerFinReceived = false;

  // Negotiated.
  /** Payload bytes per segment we send. */
  mss: number;
  peerMss = 536;
  tsOn = false;
  sackOn = false;
  wsOn = false;
  tsRecent = 0;
  private lastAckSent = 0;
  private readonly tsOffset: number;

  // RTT / RTO.
  srtt = 0;
  rttvar = 0;
  rto: number;
  backoff = 0;
  private rttSeq = 0;
  private rttTime = -1;

  // Recovery.
  /** 0 none, 1 fast recovery, 2 after RTO. */
  recovery = 0;
  private recoveryPoint = 0;
  dupAcks = 0;
  /** Duplicate-ACK threshold; raised when a fast retransmit proves spurious (reordering). */
  dupThresh: number;
  /** Congestion state saved on entering recovery, for the Eifel undo (RFC 3522). */
  private undoState: unknown;
  private undoTsval = 0;
  private undoSeq = 0;
  spuriousRecoveries = 0;
  // PRR (RFC 6937).
  private prrDelivered = 0;
  private prrOut = 0;
  private recoverFs = 0;
  private prrAllow = 0;

  // ACK generation.
  private ackNow = false;
  private ackPendingBytes = 0;
  private quickAcksLeft: number;

  // Timers (absolute ms; Infinity when off).
  private rtoAt = NO_DEADLINE;
  private persistAt = NO_DEADLINE;
  private delackAt = NO_DEADLINE;
  private timeWaitAt = NO_DEADLINE;
  private keepaliveAt = NO_DEADLINE;
  private tlpAt = NO_DEADLINE;
  private tlpInFlight = false;
  private tlpHighSeq = 0;
  private tlpTsval = 0;
  private tlpRetrans = false;
  tailLossProbes = 0;
  private persistBackoff = 0;
  private keepaliveProbesSent = 0;
  private retries = 0;
  /** When the oldest outstanding data was first retransmitted (user timeout), -1 none. */
  private stallSince = -1;
  private lastHeard = 0;
  private synSentAt = -1;

  // RFC 5961 challenge ACK budget.
  private chAckWindow = -1;
  private chAckCount = 0;

  private closedNotified = false;
  private readonly info: OutInfo = {
    kind: 'ack',
    seq: 0,
    len: 0,
    tag: undefined,
    tagSeq: 0,
    tagLen: 0,
    retransmit: false,
  };

  // Statistics.
  bytesSent = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  segmentsSent = 0;
  segmentsReceived = 0;
  retransmits = 0;
  fastRetransmits = 0;
  rtoCount = 0;
  challengeAcks = 0;
  pawsDrops = 0;

  constructor(options: {
    localPort: number;
    remotePort: number;
    iss: number;
    source: TcbSource;
    sink: TcbSink;
    hooks?: TcbHooks;
    config?: Partial<TcbConfig>;
    /** The connection's subflows, for coupled congestion control. */
    ccGroup?: CcGroup;
  }) {
    this.cfg = { ...DEFAULT_TCB_CONFIG, ...options.config };
    this.localPort = options.localPort;
    this.remotePort = options.remotePort;
    this.iss = options.iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.source = options.source;
    this.sink = options.sink;
    this.hooks = options.hooks ?? {};
    this.rto = this.cfg.rtoInitial;
    this.dupThresh = this.cfg.dupThresh;
    this.quickAcksLeft = this.cfg.quickAcks;
    this.mss = Math.min(this.cfg.mss, 536);
    this.tsOffset = this.iss;
    if (this.cfg.windowScaling) {
      let s = 0;
      while (s < MAX_WIN_SHIFT && this.cfg.rcvBuf >> s > 65535) s++;
      this.rcvWscale = s;
    }
    const factory = typeof this.cfg.cc === 'string' ? getCcFactory(this.cfg.cc) : this.cfg.cc;
    this.ccGroup = options.ccGroup ?? { subflows: () => [this] };
    this.cc = factory({
      mss: this.cfg.mss,
      initialWindowSegments: this.cfg.initialWindowSegments,
      self: this,
      group: this.ccGroup,
    });
  }

  // ── CcSubflowView ───────────────────────────────────────────────────────────────────────────
  get cwnd(): number {
    return this.cc.cwnd;
  }
  get ssthresh(): number {
    return this.cc.ssthresh;
  }
  get srttMs(): number {
    return this.srtt;
  }
  get bytesInFlight(): number {
    return this.board.pipe;
  }
  get inRecovery(): boolean {
    return this.recovery !== 0;
  }
  get active(): boolean {
    return this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT;
  }

  /** Not narrowed by the compiler: state changes inside calls. */
  isClosed(): boolean {
    return this.state === TcpState.CLOSED;
  }

  get stateName(): string {
    return STATE_NAMES[this.state];
  }

  /** True once the handshake completed (ESTABLISHED or later, not CLOSED). */
  get synchronized(): boolean {
    return this.state >= TcpState.ESTABLISHED;
  }

  /** The receive window we currently advertise (bytes beyond rcvNxt). */
  get rcvWnd(): number {
    return Math.max(seqSub(this.rcvAdv, this.rcvNxt), 0);
  }

  /** Bytes sent but not acknowledged (sequence space, FIN included). */
  get flightSize(): number {
    return seqSub(this.sndMax, this.sndUna);
  }

  /** Memory held in buffers (send store, reassembly store), bytes. */
  get bufferBytes(): number {
    return this.sndRing.capacity + (this.rcvStore?.capacity ?? 0);
  }

  /** Bytes held by the TCB for (re)transmission. */
  get sndQueued(): number {
    return this.sndRing.length;
  }

  stats(): TcbStats {
    return {
      state: this.stateName,
      mss: this.mss,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      srttMs: this.srtt,
      rttvarMs: this.rttvar,
      rtoMs: this.rto,
      bytesInFlight: this.board.pipe,
      bytesSent: this.bytesSent,
      bytesAcked: this.bytesAcked,
      bytesReceived: this.bytesReceived,
      segmentsSent: this.segmentsSent,
      segmentsReceived: this.segmentsReceived,
      retransmits: this.retransmits,
      fastRetransmits: this.fastRetransmits,
      rtoCount: this.rtoCount,
      challengeAcks: this.challengeAcks,
      pawsDrops: this.pawsDrops,
      sndWnd: this.sndWnd,
      rcvWnd: this.rcvWnd,
    };
  }

  takeOutput(): TcpSegment[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  nextDeadline(): number {
    let d = this.rtoAt;
    if (this.persistAt < d) d = this.persistAt;
    if (this.delackAt < d) d = this.delackAt;
    if (this.timeWaitAt < d) d = this.timeWaitAt;
    if (this.keepaliveAt < d) d = this.keepaliveAt;
    if (this.tlpAt < d) d = this.tlpAt;
    return d;
  }

  // ── State ───────────────────────────────────────────────────────────────────────────────────
  private setState(to: TcpState, now: number): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.hooks.onStateChange?.(this, from, to, now);
  }

  private finish(error: CloseError | undefined, now: number): void {
    if (this.closedNotified) return;
    this.closedNotified = true;
    this.hooks.onClosed?.(this, error, now);
  }

  private toClosed(error: CloseError | undefined, now: number): void {
    this.setState(TcpState.CLOSED, now);
    this.rtoAt = this.persistAt = this.delackAt = this.timeWaitAt = this.keepaliveAt = NO_DEADLINE;
    this.tlpAt = NO_DEADLINE;
    this.finish(error, now);
  }

  private enterTimeWait(now: number): void {
    this.setState(TcpState.TIME_WAIT, now);
    this.rtoAt = this.persistAt = this.keepaliveAt = this.tlpAt = NO_DEADLINE;
    this.timeWaitAt = now + this.cfg.timeWaitMs;
    this.finish(undefined, now);
  }

  // ── Opening ─────────────────────────────────────────────────────────────────────────────────
  /** Active open: sends the SYN. */
  connect(now: number): void {
    this.setState(TcpState.SYN_SENT, now);
    this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
    this.sendSyn(false, now);
    this.synSentAt = now;
    this.rtoAt = now + this.rto;
  }

  /**
   * Passive open from a SYN that reached a listener: negotiates options and answers SYN/ACK.
   * Returns false when the hook refused the SYN (an RST was queued).
   */
  acceptSyn(seg: TcpSegment, now: number): boolean {
    this.segmentsReceived++;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.lastAckSent = this.rcvNxt;
    this.negotiate(seg);
    this.sndWnd = seg.window; // never scaled on a SYN
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = this.iss;
    if (this.hooks.incoming && !this.hooks.incoming(this, seg, now)) {
      this.sendRst(seqAdd(this.iss, 0), undefined, true, now);
      this.toClosed({ code: 'EREFUSED', message: 'SYN refused' }, now);
      return false;
    }
    this.setState(TcpState.SYN_RECEIVED, now);
    this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
    this.sendSyn(true, now);
    this.synSentAt = now;
    this.rtoAt = now + this.rto;
    this.lastHeard = now;
    return true;
  }

  /**
   * Passive open completed by a SYN cookie (RFC 4987): the host answered the SYN statelessly with
   * ISN = this.iss and now holds the ACK that echoes it. The connection starts ESTABLISHED with
   * what the cookie kept (the MSS); window scaling, SACK and timestamps are off. The ACK's data, if
   * any, is processed as usual.
   */
  acceptCookie(seg: TcpSegment, peerMss: number, now: number): void {
    this.irs = seqAdd(seg.seq, -1);
    this.rcvNxt = seg.seq;
    this.lastAckSent = seg.seq;
    this.peerMss = peerMss;
    this.tsOn = this.sackOn = this.wsOn = false;
    this.sndWscale = this.rcvWscale = 0;
    this.mss = Math.max(Math.min(peerMss, this.cfg.mss) - this.cfg.mssReserve, 64);
    this.cc.setMss(this.mss);
    // The window our stateless SYN/ACK advertised.
    this.rcvAdv = seqAdd(seg.seq, Math.min(this.sink.window(this), this.cfg.rcvBuf, 65535));
    this.sndUna = this.sndNxt = this.sndMax = seqAdd(this.iss, 1);
    this.sndWnd = seg.window;
    this.maxSndWnd = seg.window;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.lastHeard = now;
    this.setState(TcpState.ESTABLISHED, now);
    this.armKeepalive(now);
    this.hooks.onEstablished?.(this, now);
    this.input(seg, now);
  }

  private negotiate(seg: TcpSegment): void {
    let mss = -1;
    let ws = -1;
    let sackOk = false;
    let ts = false;
    for (const o of seg.options) {
      switch (o.kind) {
        case 'mss':
          mss = o.mss;
          break;
        case 'wscale':
          ws = o.shift;
          break;
        case 'sackPermitted':
          sackOk = true;
          break;
        case 'timestamps':
          ts = true;
          this.tsRecent = o.tsval;
          break;
        default:
          break;
      }
    }
    this.peerMss = mss > 0 ? mss : 536;
    this.wsOn = this.cfg.windowScaling && ws >= 0;
    if (this.wsOn) this.sndWscale = Math.min(ws, MAX_WIN_SHIFT);
    else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackOn = this.cfg.sack && sackOk;
    // A passive side only uses timestamps when the SYN had them; an active side when both did.
    this.tsOn = this.cfg.timestamps && ts;
    this.mss = Math.max(
      Math.min(this.peerMss, this.cfg.mss) - (this.tsOn ? 12 : 0) - this.cfg.mssReserve,
      64,
    );
    this.cc.setMss(this.mss);
  }

  // ── Segment building ────────────────────────────────────────────────────────────────────────
  private tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  private newSeg(flags: number, seq: number, payload: Uint8Array): TcpSegment {
    return {
      srcPort: this.localPort,
      dstPort: this.remotePort,
      seq,
      ack: flags & ACK ? this.rcvNxt : 0,
      flags,
      window: 0,
      checksum: 0,
      urgent: 0,
      options: [],
      payload,
    };
  }

  /** Window field for an outgoing segment; updates rcvAdv. */
  private windowField(syn: boolean): number {
    let wnd = this.sink.window(this);
    if (wnd > this.cfg.rcvBuf) wnd = this.cfg.rcvBuf;
    if (wnd < 0) wnd = 0;
    const cur = seqSub(this.rcvAdv, this.rcvNxt);
    // Receiver SWS avoidance (RFC 9293 §3.8.6.2.2): move the right edge only by a useful amount
    // (a closed window stays closed until a useful amount is free).
    if (wnd > cur && wnd - cur < Math.min(this.cfg.rcvBuf >> 1, this.mss)) wnd = cur;
    // Never shrink the window (RFC 9293 §3.8.6.2.2).
    if (wnd < cur) wnd = cur;
    if (syn) {
      const f = Math.min(wnd, 65535);
      this.rcvAdv = seqAdd(this.rcvNxt, f);
      return f;
    }
    // Rounded down to the scale's granularity: never promise more than the sink can take.
    const shift = this.rcvWscale;
    let f = wnd >>> shift;
    if (f > 65535) f = 65535;
    this.rcvAdv = seqMax(this.rcvAdv, seqAdd(this.rcvNxt, f << shift));
    return f;
  }

  /** Completes a segment: window, timestamps, hook options, SACK blocks; queues it. */
  private emit(seg: TcpSegment, now: number, kind: OutInfo['kind']): void {
    const syn = (seg.flags & SYN) !== 0;
    if (seg.flags & ACK || syn) seg.window = this.windowField(syn);
    if (this.tsOn || (syn && this.cfg.timestamps && (this.state === TcpState.SYN_SENT || this.tsOn))) {
      seg.options.push({
        kind: 'timestamps',
        tsval: this.tsNow(now),
        tsecr: seg.flags & ACK ? this.tsRecent : 0,
      });
    }
    const info = this.info;
    info.kind = kind;
    if (kind !== 'data' && kind !== 'fin') {
      info.seq = seg.seq;
      info.len = 0;
      info.tag = undefined;
      info.tagSeq = seg.seq;
      info.tagLen = 0;
      info.retransmit = false;
    }
    if (this.hooks.outgoing) {
      const used = optionsLength(seg.options);
      this.hooks.outgoing(this, seg, MAX_OPTION_SPACE - used, info);
    }
    if (this.sackOn && seg.flags & ACK && !syn && this.oooStart.length > 0 && !(seg.flags & RST)) {
      const used = optionsLength(seg.options);
      const n = Math.min(Math.floor((MAX_OPTION_SPACE - used - 4) / 8), 4, this.oooStart.length);
      if (n > 0) seg.options.push({ kind: 'sack', blocks: this.sackBlocks(n) });
    }
    if (seg.flags & ACK) {
      this.lastAckSent = this.rcvNxt;
      this.ackNow = false;
      this.ackPendingBytes = 0;
      this.delackAt = NO_DEADLINE;
    }
    this.segmentsSent++;
    this.outbox.push(seg);
  }

  private sackBlocks(n: number): SackBlock[] {
    const blocks: SackBlock[] = [];
    const last = this.oooLast;
    if (last >= 0 && last < this.oooStart.length) {
      blocks.push({ left: this.oooStart[last]!, right: this.oooEnd[last]! });
    }
    for (let i = this.oooStart.length - 1; i >= 0 && blocks.length < n; i--) {
      if (i === last) continue;
      blocks.push({ left: this.oooStart[i]!, right: this.oooEnd[i]! });
    }
    return blocks;
  }

  private sendSyn(ack: boolean, now: number): void {
    const seg = this.newSeg(ack ? SYN | ACK : SYN, this.iss, EMPTY);
    seg.options.push({ kind: 'mss', mss: this.cfg.mss });
    // Active: offer everything configured. Passive: answer only what the SYN offered.
    const offerWs = ack ? this.wsOn : this.cfg.windowScaling;
    const offerSack = ack ? this.sackOn : this.cfg.sack;
    if (offerWs) seg.options.push({ kind: 'wscale', shift: this.rcvWscale });
    if (offerSack) seg.options.push({ kind: 'sackPermitted' });
    // Timestamps go last (packed after SACK-permitted by the codec); emit() adds them.
    this.emit(seg, now, ack ? 'synack' : 'syn');
  }

  /** A bare ACK now (data ACKs, window updates, challenge ACKs). */
  sendAck(now: number): void {
    if (this.state === TcpState.CLOSED || this.state === TcpState.SYN_SENT) return;
    const seg = this.newSeg(ACK, this.sndNxt, EMPTY);
    this.emit(seg, now, 'ack');
  }

  private sendRst(seq: number, extra: TcpOption[] | undefined, withAck: boolean, now: number): void {
    const seg = this.newSeg(withAck ? RST | ACK : RST, seq, EMPTY);
    if (extra) for (const o of extra) seg.options.push(o);
    const ts = this.tsOn;
    this.tsOn = false; // no timestamps needed on RST
    this.emit(seg, now, 'rst');
    this.tsOn = ts;
  }

  // ── User calls ──────────────────────────────────────────────────────────────────────────────
  /** Graceful close: FIN after everything the source still has. */
  close(now: number): void {
    switch (this.state) {
      case TcpState.SYN_SENT:
        this.toClosed(undefined, now);
        return;
      case TcpState.SYN_RECEIVED:
      case TcpState.ESTABLISHED:
        this.finQueued = true;
        if (this.state === TcpState.ESTABLISHED) this.setState(TcpState.FIN_WAIT_1, now);
        break;
      case TcpState.CLOSE_WAIT:
        this.finQueued = true;
        this.setState(TcpState.LAST_ACK, now);
        break;
      default:
        return;
    }
    this.output(now);
  }

  /** Abortive close: RST (with extra options, e.g. MP_TCPRST), then CLOSED. */
  abort(now: number, options?: TcpOption[], error?: CloseError): void {
    if (this.state === TcpState.CLOSED) return;
    if (this.state !== TcpState.SYN_SENT && this.state !== TcpState.TIME_WAIT) {
      this.sendRst(this.sndNxt, options, false, now);
    }
    this.toClosed(error, now);
  }

  /** The sink's window may have grown (the application consumed data): update the peer if useful. */
  windowOpened(now: number): void {
    if (!this.synchronized || this.state === TcpState.TIME_WAIT) return;
    const cur = this.rcvWnd;
    const wnd = Math.min(this.sink.window(this), this.cfg.rcvBuf);
    if (wnd - cur >= Math.min(this.cfg.rcvBuf >> 1, 2 * this.mss)) this.sendAck(now);
  }

  // ── Input ───────────────────────────────────────────────────────────────────────────────────
  input(seg: TcpSegment, now: number): void {
    this.segmentsReceived++;
    switch (this.state) {
      case TcpState.CLOSED:
      case TcpState.LISTEN:
        return;
      case TcpState.SYN_SENT:
        this.inputSynSent(seg, now);
        break;
      default:
        this.inputSync(seg, now);
    }
    if (!this.isClosed()) this.output(now);
    this.hooks.processed?.(this, seg, now);
  }

  /**
   * Switches congestion control on a live connection (a knob changed): the new algorithm starts
   * from the current cwnd and ssthresh.
   */
  setCongestionControl(cc: string | CcFactory, group?: CcGroup): void {
    const factory = typeof cc === 'string' ? getCcFactory(cc) : cc;
    if (group) this.ccGroup = group;
    const next = factory({
      mss: this.mss,
      initialWindowSegments: this.cfg.initialWindowSegments,
      self: this,
      group: this.ccGroup,
    });
    const w = next as { cwnd: number; ssthresh: number };
    if (Object.getOwnPropertyDescriptor(w, 'cwnd')?.writable) w.cwnd = this.cc.cwnd;
    if (Object.getOwnPropertyDescriptor(w, 'ssthresh')?.writable) w.ssthresh = this.cc.ssthresh;
    this.cc = next;
  }

  private findTs(seg: TcpSegment): TcpOption | undefined {
    const opts = seg.options;
    for (let i = 0; i < opts.length; i++) if (opts[i]!.kind === 'timestamps') return opts[i];
    return undefined;
  }

  private inputSynSent(seg: TcpSegment, now: number): void {
    const f = seg.flags;
    const ackOk = (f & ACK) !== 0 && seqGt(seg.ack, this.iss) && seqLeq(seg.ack, this.sndMax);
    if (f & ACK && !ackOk) {
      if (!(f & RST)) this.sendRst(seg.ack, undefined, false, now);
      return;
    }
    if (f & RST) {
      if (ackOk) this.toClosed({ code: 'ECONNREFUSED', message: 'connection refused' }, now);
      return;
    }
    if (!(f & SYN)) return;
    this.irs = seg.seq;
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.rcvAdv = this.rcvNxt;
    this.lastAckSent = this.rcvNxt;
    this.negotiate(seg);
    this.sndWnd = seg.window;
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.hooks.incoming && !this.hooks.incoming(this, seg, now)) {
      this.sendRst(ackOk ? seg.ack : 0, undefined, !ackOk, now);
      this.toClosed({ code: 'EREFUSED', message: 'SYN/ACK refused' }, now);
      return;
    }
    this.lastHeard = now;
    if (ackOk) {
      // Our SYN is acknowledged.
      this.sndUna = seg.ack;
      this.rtoSampleSyn(now);
      this.rtoAt = NO_DEADLINE;
      this.retries = 0;
      this.setState(TcpState.ESTABLISHED, now);
      this.armKeepalive(now);
      this.sendAck(now); // the third ACK (hooks may add MP_CAPABLE keys)
      this.hooks.onEstablished?.(this, now);
    } else {
      // Simultaneous open.
      this.setState(TcpState.SYN_RECEIVED, now);
      this.sendSyn(true, now);
      this.rtoAt = now + this.rto;
    }
  }

  private rtoSampleSyn(now: number): void {
    // A SYN that was never retransmitted gives an RTT sample (Karn).
    if (this.retries === 0 && this.synSentAt >= 0) this.rttSample(now - this.synSentAt);
    this.synSentAt = -1;
    this.backoff = 0;
  }

  private challengeAck(now: number): void {
    const sec = Math.floor(now / 1000);
    if (sec !== this.chAckWindow) {
      this.chAckWindow = sec;
      this.chAckCount = 0;
    }
    if (this.chAckCount >= this.cfg.challengeAckLimit) return;
    this.chAckCount++;
    this.challengeAcks++;
    this.sendAck(now);
  }

  private inputSync(seg: TcpSegment, now: number): void {
    const f = seg.flags;
    const segLen = seg.payload.length + (f & SYN ? 1 : 0) + (f & FIN ? 1 : 0);

    // Simultaneous open: our SYN/ACK crossed theirs.
    if (this.state === TcpState.SYN_RECEIVED && f & SYN) {
      if (seg.seq !== this.irs) {
        this.challengeAck(now);
        return;
      }
      if (f & ACK && seqGt(seg.ack, this.iss) && seqLeq(seg.ack, this.sndMax)) {
        this.sndUna = seg.ack;
        this.establishFromSynRcvd(seg, now);
        this.sendAck(now);
      } else if (!(f & ACK)) {
        this.sendSyn(true, now); // the peer missed our SYN/ACK
      }
      return;
    }

    // PAWS (RFC 7323 §5).
    let tsval = -1;
    let tsecr = -1;
    if (this.tsOn) {
      const ts = this.findTs(seg);
      if (ts !== undefined && ts.kind === 'timestamps') {
        tsval = ts.tsval;
        tsecr = ts.tsecr;
        if (!(f & RST) && seqLt(tsval, this.tsRecent) && this.synchronized) {
          this.pawsDrops++;
          this.sendAck(now);
          return;
        }
      }
    }

    // Sequence acceptability (RFC 9293 §3.10.7.4).
    const wnd = this.rcvWnd;
    const seq = seg.seq;
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd === 0 ? seq === this.rcvNxt : seqGeq(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, wnd));
    } else if (wnd === 0) {
      ok = false;
    } else {
      const last = seqAdd(seq, segLen - 1);
      ok =
        (seqGeq(seq, this.rcvNxt) && seqLt(seq, seqAdd(this.rcvNxt, wnd))) ||
        (seqGeq(last, this.rcvNxt) && seqLt(last, seqAdd(this.rcvNxt, wnd)));
    }
    // A zero window still lets the ACK of a data segment through (RFC 9293 "special allowance").
    const ackOnly = !ok && wnd === 0 && seq === this.rcvNxt && segLen > 0 && !(f & (RST | SYN));
    if (!ok && !ackOnly) {
      if (!(f & RST)) {
        // Old duplicate or out of window: ACK it (also the zero-window probe's answer).
        this.ackNow = true;
        this.sendAck(now);
      }
      return;
    }

    // RST (RFC 5961 §3).
    if (f & RST) {
      if (seq === this.rcvNxt) {
        const refused = this.state === TcpState.SYN_RECEIVED;
        if (this.state === TcpState.TIME_WAIT) this.toClosed(undefined, now);
        else
          this.toClosed(
            refused
              ? { code: 'ECONNREFUSED', message: 'connection refused' }
              : { code: 'ECONNRESET', message: 'connection reset by peer' },
            now,
          );
      } else {
        this.challengeAck(now);
      }
      return;
    }

    // SYN in a synchronized state (RFC 5961 §4): challenge ACK.
    if (f & SYN) {
      this.challengeAck(now);
      return;
    }

    if (!(f & ACK)) return;

    if (this.hooks.incoming && !this.hooks.incoming(this, seg, now)) return;

    // RFC 7323 §4.3: TS.Recent from segments covering the last ACK we sent.
    if (tsval >= 0 && seqLeq(seq, this.lastAckSent) && seqGeq(tsval, this.tsRecent)) this.tsRecent = tsval;
    this.lastHeard = now;

    // ACK processing.
    if (this.state === TcpState.SYN_RECEIVED) {
      if (seqGt(seg.ack, this.iss) && seqLeq(seg.ack, this.sndMax)) {
        this.establishFromSynRcvd(seg, now);
        if (this.isClosed()) return;
      } else {
        this.sendRst(seg.ack, undefined, false, now);
        return;
      }
    }
    if (seqGt(seg.ack, this.sndMax)) {
      this.sendAck(now);
      return;
    }
    // RFC 5961 §5: ACKs too far in the past get a challenge ACK.
    if (seqLt(seg.ack, seqAdd(this.sndUna, -Math.max(this.maxSndWnd, 65535)))) {
      this.challengeAck(now);
      return;
    }
    this.processAck(seg, tsecr, now);
    if (this.state === TcpState.CLOSED || this.state === TcpState.TIME_WAIT) {
      if (this.state === TcpState.TIME_WAIT && f & FIN) {
        // A retransmitted FIN: ACK it and restart 2MSL.
        this.sendAck(now);
        this.timeWaitAt = now + this.cfg.timeWaitMs;
      }
      return;
    }

    // Data.
    if (ackOnly) {
      this.ackNow = true;
      return;
    }
    if (seg.payload.length > 0 || f & FIN) {
      if (
        this.state === TcpState.ESTABLISHED ||
        this.state === TcpState.FIN_WAIT_1 ||
        this.state === TcpState.FIN_WAIT_2
      ) {
        this.receiveData(seg, now);
      } else if (f & FIN && this.peerFinReceived) {
        this.ackNow = true; // retransmitted FIN
      }
    }
  }

  private establishFromSynRcvd(seg: TcpSegment, now: number): void {
    this.sndUna = seg.ack;
    this.sndWnd = seg.window << this.sndWscale;
    this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    this.rtoSampleSyn(now);
    this.rtoAt = NO_DEADLINE;
    this.retries = 0;
    this.setState(this.finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED, now);
    this.armKeepalive(now);
    this.hooks.onEstablished?.(this, now);
  }

  private processAck(seg: TcpSegment, tsecr: number, now: number): void {
    const ack = seg.ack;
    const inflightBefore = this.board.pipe;
    let newSacked = 0;
    let ackedFresh = 0;
    if (this.sackOn) {
      const opts = seg.options;
      for (let i = 0; i < opts.length; i++) {
        const o = opts[i]!;
        if (o.kind !== 'sack') continue;
        for (const b of o.blocks) {
          // Ignore D-SACKs and blocks outside what is outstanding.
          if (seqLeq(b.right, ack) || seqLeq(b.left, this.sndUna) || seqGt(b.right, this.sndMax)) continue;
          newSacked += this.board.sack(b.left, b.right);
        }
      }
    }

    // Window update (RFC 9293 §3.10.7.4).
    const wnd = seg.window << this.sndWscale;
    const windowChanged = wnd !== this.sndWnd;
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLeq(this.sndWl2, ack))) {
      this.sndWnd = wnd;
      if (wnd > this.maxSndWnd) this.maxSndWnd = wnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (wnd > 0) {
        this.persistAt = NO_DEADLINE;
        this.persistBackoff = 0;
      }
    }

    if (seqGt(ack, this.sndUna)) {
      const ackedSeq = seqSub(ack, this.sndUna);
      // Data bytes in the ring (the FIN takes a sequence number but no ring byte).
      let ringBytes = ackedSeq;
      let finAcked = false;
      if (this.finSent && seqGt(ack, this.finSeq)) {
        ringBytes--;
        finAcked = true;
      }
      ringBytes = Math.min(ringBytes, this.sndRing.length);
      ackedFresh = this.board.ackTo(ack);
      this.sndRing.consume(ringBytes);
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      this.trimChunks();
      this.bytesAcked += ringBytes;
      this.retries = 0;
      this.stallSince = -1;
      this.dupAcks = 0;

      // RTT sample (RFC 7323 RTTM, or one timed segment with Karn's rule).
      let rtt = -1;
      if (this.tsOn && tsecr > 0) {
        const r = seqSub(this.tsNow(now), tsecr);
        if (r >= 0 && r < 600_000) rtt = r;
      } else if (this.rttTime >= 0 && seqGeq(ack, this.rttSeq)) {
        rtt = now - this.rttTime;
        this.rttTime = -1;
      }
      if (rtt >= 0) {
        this.rttSample(rtt);
        this.backoff = 0;
      }

      // Eifel detection (RFC 3522): the ACK covering the first retransmission echoes the
      // original's timestamp, so the original arrived: the fast retransmit was spurious.
      if (this.recovery === 1 && this.undoState !== undefined && seqGt(ack, this.undoSeq) && tsecr >= 0) {
        if (seqLt(tsecr, this.undoTsval)) this.undoRecovery();
        else this.undoState = undefined;
      }

      // Recovery bookkeeping.
      if (this.recovery !== 0) {
        if (seqGeq(ack, this.recoveryPoint)) {
          if (this.recovery === 1) this.cc.onExitRecovery(now, this.flightSize);
          this.recovery = 0;
        } else if (this.recovery === 1) {
          if (!this.sackOn) {
            // NewReno partial ACK: retransmit the next hole.
            this.cc.onPartialAck(now, ackedSeq);
            this.board.markLostAt(0);
          } else {
            this.board.markLost(this.dupThresh, this.mss);
            if (newSacked > 0) this.board.detectLostRetransmits(this.dupThresh);
          }
        }
      }
      this.cc.onAck({
        now,
        ackedBytes: ackedSeq + newSacked,
        rttMs: rtt,
        inflight: inflightBefore,
        inRecovery: this.recovery === 1,
      });

      // Retransmission timer (RFC 6298 §5.2/5.3).
      if (seqLt(this.sndUna, this.sndMax)) this.rtoAt = now + this.rto;
      else this.rtoAt = NO_DEADLINE;

      // The tail loss probe's episode ends (RFC 8985 §7.4): a retransmitted probe that repaired a
      // loss (the ACK echoes the probe's timestamp, not the original's) still owes a reduction.
      if (this.tlpInFlight && seqGeq(ack, this.tlpHighSeq)) {
        this.tlpInFlight = false;
        const originalArrived = this.tsOn && tsecr >= 0 && seqLt(tsecr, this.tlpTsval);
        if (this.tlpRetrans && !originalArrived && this.recovery === 0) {
          this.cc.onEnterRecovery(now, this.flightSize + ackedSeq, this.sackOn);
          this.cc.onExitRecovery(now, this.flightSize);
        }
      }

      if (ringBytes > 0) this.hooks.onAcked?.(this, ringBytes, now);

      if (finAcked) {
        if (this.state === TcpState.FIN_WAIT_1) {
          this.setState(TcpState.FIN_WAIT_2, now);
          if (this.cfg.finWait2Ms > 0) this.timeWaitAt = now + this.cfg.finWait2Ms;
        } else if (this.state === TcpState.CLOSING) {
          this.enterTimeWait(now);
        } else if (this.state === TcpState.LAST_ACK) {
          this.toClosed(undefined, now);
          return;
        }
      }
    } else if (
      ack === this.sndUna &&
      seqLt(this.sndUna, this.sndMax) &&
      seg.payload.length === 0 &&
      !(seg.flags & (FIN | SYN)) &&
      (!windowChanged || newSacked > 0)
    ) {
      // Duplicate ACK (RFC 5681 §2, RFC 6675 §2).
      this.dupAcks++;
      if (this.recovery === 1 && !this.sackOn) this.cc.onDupAck(now);
      if (newSacked > 0 && this.recovery !== 0) {
        this.board.markLost(this.dupThresh, this.mss);
        this.board.detectLostRetransmits(this.dupThresh);
      }
      if (newSacked > 0) {
        this.cc.onAck({
          now,
          ackedBytes: newSacked,
          rttMs: -1,
          inflight: inflightBefore,
          inRecovery: this.recovery === 1,
        });
      }
    } else if (newSacked > 0 && this.recovery !== 0) {
      this.board.markLost(this.dupThresh, this.mss);
      this.board.detectLostRetransmits(this.dupThresh);
    }

    // Entering fast recovery (RFC 6675 §5 / RFC 6582).
    if (this.recovery === 0 && seqLt(this.sndUna, this.sndMax)) {
      let enter = this.dupAcks >= this.dupThresh;
      if (this.sackOn && !enter && newSacked > 0) {
        // IsLost(HighACK + 1): enough SACKed above the first hole.
        enter = this.board.markLost(this.dupThresh, this.mss) > 0 && (this.board.flagsAt(0) & F_LOST) !== 0;
      }
      if (enter) this.enterRecovery(now);
    }

    if (this.recovery === 1 && this.sackOn && this.cfg.prr) this.prrUpdate(ackedFresh + newSacked);
  }

  /** RFC 6937 §3: how much may be sent on this ACK during recovery (PRR-SSRB). */
  private prrUpdate(delivered: number): void {
    this.prrDelivered += delivered;
    const pipe = this.board.pipe;
    const ss = this.cc.ssthresh;
    let sndcnt: number;
    if (pipe > ss) {
      sndcnt = Math.ceil((this.prrDelivered * ss) / Math.max(this.recoverFs, 1)) - this.prrOut;
    } else {
      sndcnt = Math.min(ss - pipe, Math.max(this.prrDelivered - this.prrOut, delivered) + this.mss);
    }
    this.prrAllow = Math.max(sndcnt, 0);
  }

  /** Bytes the send loop may put out now: PRR's allowance in SACK recovery, else cwnd − pipe. */
  private sendRoom(): number {
    if (this.recovery === 1 && this.sackOn && this.cfg.prr) return this.prrAllow;
    return this.cc.cwnd - this.board.pipe;
  }

  private countOut(len: number): void {
    if (this.recovery === 1) {
      this.prrOut += len;
      this.prrAllow -= len;
    }
  }

  private enterRecovery(now: number): void {
    this.recovery = 1;
    this.tlpInFlight = false;
    this.recoveryPoint = this.sndMax;
    this.fastRetransmits++;
    // Eifel undo only when the head's first retransmission is the one sent now.
    const headFlags = this.board.flagsAt(0);
    this.undoState =
      this.tsOn && this.cc.snapshot && !(headFlags & F_EVER_REXMIT) ? this.cc.snapshot() : undefined;
    this.undoSeq = this.sndUna;
    this.undoTsval = this.tsNow(now);
    this.prrDelivered = 0;
    this.prrOut = 0;
    this.prrAllow = 0;
    this.recoverFs = this.flightSize;
    this.cc.onEnterRecovery(now, this.flightSize, this.sackOn);
    if (this.sackOn) this.board.markLost(this.dupThresh, this.mss);
    // The first unacknowledged segment is retransmitted regardless (RFC 6675 §5 step 4.2),
    // unless a retransmission of it is already on its way.
    if (!(headFlags & F_REXMIT)) this.board.markLostAt(0);
    this.hooks.onLoss?.(this, this.sndUna, now);
    const i = this.board.nextLost();
    if (i >= 0) this.retransmitRecord(i, now);
  }

  private undoRecovery(): void {
    const state = this.undoState;
    this.undoState = undefined;
    if (state !== undefined) this.cc.restore?.(state);
    this.recovery = 0;
    this.spuriousRecoveries++;
    this.board.unmarkLost();
    // Reordering, not loss: tolerate more duplicate ACKs from now on.
    this.dupThresh = Math.min(this.dupThresh + 3, 30);
  }

  private rttSample(r: number): void {
    if (this.srtt === 0 && this.rttvar === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    this.rto = Math.min(Math.max(rto, this.cfg.rtoMin), this.cfg.rtoMax);
  }

  // ── Receiving data ──────────────────────────────────────────────────────────────────────────
  private receiveData(seg: TcpSegment, now: number): void {
    const payload = seg.payload;
    let seq = seg.seq;
    let start = 0;
    let end = payload.length;
    const fin = (seg.flags & FIN) !== 0;
    // Trim what we already have.
    const before = seqSub(this.rcvNxt, seq);
    if (before > 0) {
      start = Math.min(before, end);
      seq = seqAdd(seq, start);
    }
    // Trim to the window (and the reassembly store).
    const room = Math.min(Math.max(this.rcvWnd, 0), this.cfg.rcvBuf);
    const offset = seqSub(seq, this.rcvNxt);
    let trimmedTail = false;
    if (offset + (end - start) > room) {
      end = start + Math.max(room - offset, 0);
      trimmedTail = true;
    }
    const finSeq = seqAdd(seg.seq, payload.length);
    if (fin && !trimmedTail) this.rcvFinSeq = finSeq;

    const n = end - start;
    if (n > 0) {
      if (offset === 0) {
        // In order: straight to the sink.
        this.deliverInOrder(payload.subarray(start, end), now);
        // Anything queued above now contiguous?
        this.pullReassembled(now);
        if (this.oooStart.length > 0 || before > 0) this.ackNow = true;
        else {
          this.ackPendingBytes += n;
          if (this.quickAcksLeft > 0) {
            this.quickAcksLeft--;
            this.ackNow = true;
          } else if (this.ackPendingBytes >= 2 * this.mss) this.ackNow = true;
          else if (this.delackAt === NO_DEADLINE) this.delackAt = now + this.cfg.delAckMs;
        }
      } else {
        this.rcvStore ??= new WindowStore(this.cfg.rcvBuf);
        this.rcvStore.write(offset, payload, start, end);
        this.addOoo(seq, seqAdd(seq, n));
        this.ackNow = true; // out of order: immediate (duplicate) ACK with SACK
      }
    } else if (payload.length > 0) {
      this.ackNow = true; // duplicate data
    }

    if (this.rcvFinSeq >= 0 && this.rcvNxt === this.rcvFinSeq && !this.peerFinReceived) this.takeFin(now);
    else if (fin && this.rcvFinSeq >= 0) this.ackNow = true;
  }

  private deliverInOrder(data: Uint8Array, now: number): void {
    const seq = this.rcvNxt;
    this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    this.rcvStore?.advance(data.length);
    this.bytesReceived += data.length;
    this.sink.deliver(this, data, seq, now);
  }

  private pullReassembled(now: number): void {
    while (this.oooStart.length > 0) {
      const s = this.oooStart[0]!;
      const e = this.oooEnd[0]!;
      if (seqGt(s, this.rcvNxt)) break;
      this.oooStart.shift();
      this.oooEnd.shift();
      if (this.oooLast === 0) this.oooLast = -1;
      else if (this.oooLast > 0) this.oooLast--;
      if (seqLeq(e, this.rcvNxt)) continue;
      const n = seqSub(e, this.rcvNxt);
      const data = this.rcvStore!.read(0, n);
      this.deliverInOrder(data, now);
    }
  }

  private addOoo(s: number, e: number): void {
    const starts = this.oooStart;
    const ends = this.oooEnd;
    // Find insertion point.
    let i = 0;
    while (i < starts.length && seqLt(starts[i]!, s)) i++;
    starts.splice(i, 0, s);
    ends.splice(i, 0, e);
    // Merge with the previous one.
    if (i > 0 && seqGeq(ends[i - 1]!, s)) {
      ends[i - 1] = seqMax(ends[i - 1]!, ends[i]!);
      starts.splice(i, 1);
      ends.splice(i, 1);
      i--;
    }
    // Merge following ones.
    while (i + 1 < starts.length && seqGeq(ends[i]!, starts[i + 1]!)) {
      ends[i] = seqMax(ends[i]!, ends[i + 1]!);
      starts.splice(i + 1, 1);
      ends.splice(i + 1, 1);
    }
    this.oooLast = i;
  }

  private takeFin(now: number): void {
    this.peerFinReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.ackNow = true;
    this.hooks.onPeerFin?.(this, now);
    switch (this.state) {
      case TcpState.ESTABLISHED:
        this.setState(TcpState.CLOSE_WAIT, now);
        break;
      case TcpState.FIN_WAIT_1:
        // Our FIN not yet acknowledged (else we would be in FIN_WAIT_2).
        this.setState(TcpState.CLOSING, now);
        break;
      case TcpState.FIN_WAIT_2:
        this.sendAck(now);
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  // ── Sending ─────────────────────────────────────────────────────────────────────────────────
  /** Sends what cwnd, the peer's window and the source allow, and any pending ACK. */
  output(now: number): void {
    const st = this.state;
    const canSend =
      st === TcpState.ESTABLISHED ||
      st === TcpState.CLOSE_WAIT ||
      st === TcpState.FIN_WAIT_1 ||
      st === TcpState.CLOSING ||
      st === TcpState.LAST_ACK;
    if (canSend) {
      this.sendLoop(now);
      this.armTlp(now);
    }
    if (this.ackNow) this.sendAck(now);
  }

  /** PTO = 2·SRTT (+ the delayed-ACK time when one segment is out), never after the RTO. */
  private armTlp(now: number): void {
    if (
      !this.cfg.tlp ||
      !this.sackOn ||
      this.tlpInFlight ||
      this.recovery !== 0 ||
      this.srtt === 0 ||
      !seqLt(this.sndUna, this.sndMax)
    ) {
      this.tlpAt = NO_DEADLINE;
      return;
    }
    let pto = 2 * this.srtt;
    if (this.flightSize <= this.mss) pto += this.cfg.delAckMs;
    const at = now + Math.max(pto, 10);
    this.tlpAt = at < this.rtoAt ? at : NO_DEADLINE;
  }

  /** The probe: one new segment if the windows allow, else the last segment again. */
  private onTlp(now: number): void {
    if (!this.synchronized || this.recovery !== 0 || !seqLt(this.sndUna, this.sndMax)) return;
    const tsval = this.tsNow(now);
    const ringUnsent = this.sndRing.length - seqSub(this.sndMax, this.sndUna) + (this.finSent ? 1 : 0);
    const avail = this.finSent ? 0 : ringUnsent + this.source.available(this);
    const wndRoom = seqSub(seqAdd(this.sndUna, this.sndWnd), this.sndMax);
    let sent = false;
    if (avail > 0 && wndRoom > 0) {
      sent = this.sendNew(Math.min(this.mss, avail, wndRoom), ringUnsent, now);
      this.tlpRetrans = false;
    }
    if (!sent) {
      const last = this.board.count - 1;
      if (last < 0 || this.board.flagsAt(last) & F_SACKED_BIT) return;
      this.retransmitRecord(last, now);
      this.tlpRetrans = true;
    }
    this.tailLossProbes++;
    this.tlpInFlight = true;
    this.tlpHighSeq = this.sndMax;
    this.tlpTsval = tsval;
    this.rtoAt = now + this.rto;
  }

  private sendLoop(now: number): void {
    const mss = this.mss;
    for (let guard = 0; guard < 100_000; guard++) {
      const room = this.sendRoom();
      // 1. Retransmissions of lost segments (RFC 6675 NextSeg rule 1).
      const lost = this.board.nextLost();
      if (lost >= 0) {
        if (room < this.board.lenAt(lost) && !(room > 0 && this.board.pipe === 0)) break;
        this.retransmitRecord(lost, now);
        continue;
      }
      // 2. New data.
      const wndEnd = seqAdd(this.sndUna, this.sndWnd);
      const wndRoom = seqSub(wndEnd, this.sndMax);
      const ringUnsent = this.sndRing.length - seqSub(this.sndMax, this.sndUna) + (this.finSent ? 1 : 0);
      if (!this.finSent) {
        const avail = ringUnsent + this.source.available(this);
        if (avail > 0) {
          let len = Math.min(mss, avail);
          if (wndRoom < len) {
            if (wndRoom <= 0) {
              // Peer window closed: probe it (persist timer) once nothing is in flight.
              if (this.flightSize === 0) this.armPersist(now);
              break;
            }
            // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a runt only when it is half the
            // largest window seen or nothing is outstanding.
            if (this.flightSize > 0 && wndRoom < this.maxSndWnd >> 1) break;
            len = wndRoom;
          }
          if (room < len) break;
          if (this.sendNew(len, ringUnsent, now)) continue;
          break;
        }
        // 3. FIN once the source is drained.
        if (this.finQueued && ringUnsent <= 0) {
          this.sendFin(now);
          continue;
        }
      }
      // 4. RFC 6675 rule 3 in recovery: unSACKed holes not yet deemed lost.
      if (this.recovery === 1 && this.sackOn) {
        const r3 = this.board.nextRule3();
        if (r3 >= 0 && room >= this.board.lenAt(r3)) {
          this.retransmitRecord(r3, now);
          continue;
        }
      }
      break;
    }
  }

  private armPersist(now: number): void {
    if (this.persistAt !== NO_DEADLINE || this.rtoAt !== NO_DEADLINE) return;
    const t = Math.min(Math.max(this.rto, this.cfg.rtoMin) * 2 ** this.persistBackoff, this.cfg.rtoMax);
    this.persistAt = now + t;
  }

  /** Tag of the chunk containing seq (start seq / length in `info`). */
  private tagFor(seq: number, info: OutInfo): void {
    info.tag = undefined;
    info.tagSeq = seq;
    info.tagLen = 0;
    const n = this.chunkSeq.length;
    for (let i = n - 1; i >= this.chunkHead; i--) {
      const s = this.chunkSeq[i]!;
      if (seqLeq(s, seq)) {
        info.tag = this.chunkTag[i];
        info.tagSeq = s;
        const next = i + 1 < n ? this.chunkSeq[i + 1]! : seqAdd(this.sndUna, this.sndRing.length);
        info.tagLen = seqSub(next, s);
        return;
      }
    }
  }

  private trimChunks(): void {
    const n = this.chunkSeq.length;
    while (this.chunkHead + 1 < n && seqLeq(this.chunkSeq[this.chunkHead + 1]!, this.sndUna))
      this.chunkHead++;
    if (this.chunkHead > 64 && this.chunkHead * 2 > n) {
      this.chunkSeq.splice(0, this.chunkHead);
      this.chunkTag.splice(0, this.chunkHead);
      this.chunkHead = 0;
    }
  }

  /** Sends `len` new bytes: first from unsent ring bytes, else pulled from the source. */
  private sendNew(len: number, ringUnsent: number, now: number): boolean {
    const seq = this.sndMax;
    const offset = seqSub(seq, this.sndUna);
    if (ringUnsent <= 0) {
      const before = this.sndRing.length;
      const tag = this.source.pull(this, len, this.sndRing);
      const got = this.sndRing.length - before;
      if (got <= 0) return false;
      if (tag !== undefined || this.chunkSeq.length > this.chunkHead) {
        this.chunkSeq.push(seq);
        this.chunkTag.push(tag);
      }
      len = got;
    } else {
      len = Math.min(len, ringUnsent);
    }
    const info = this.info;
    info.seq = seq;
    info.retransmit = false;
    if (this.chunkSeq.length > this.chunkHead) {
      this.tagFor(seq, info);
      const chunkEnd = seqAdd(info.tagSeq, info.tagLen);
      len = Math.min(len, seqSub(chunkEnd, seq));
    } else {
      info.tag = undefined;
      info.tagSeq = seq;
      info.tagLen = len;
    }
    info.len = len;
    const payload = this.sndRing.view(offset, len);
    const seg = this.newSeg(ACK, seq, payload);
    if (this.finQueued && this.source.available(this) === 0 && offset + len === this.sndRing.length) {
      // Piggyback the FIN on the last data segment.
      seg.flags |= FIN;
      this.finSent = true;
      this.finSeq = seqAdd(seq, len);
      this.board.push(seq, len + 1, true);
      this.sndMax = seqAdd(seq, len + 1);
      this.emit(seg, now, 'fin');
    } else {
      this.board.push(seq, len, false);
      this.sndMax = seqAdd(seq, len);
      this.emit(seg, now, 'data');
    }
    this.sndNxt = this.sndMax;
    this.bytesSent += len;
    this.countOut(len);
    if (!this.tsOn && this.rttTime < 0) {
      this.rttTime = now;
      this.rttSeq = this.sndMax;
    }
    if (this.rtoAt === NO_DEADLINE) this.rtoAt = now + this.rto;
    this.persistAt = NO_DEADLINE;
    return true;
  }

  private sendFin(now: number): void {
    const seq = this.sndMax;
    const seg = this.newSeg(ACK | FIN, seq, EMPTY);
    this.finSent = true;
    this.finSeq = seq;
    this.board.push(seq, 1, true);
    this.sndMax = this.sndNxt = seqAdd(seq, 1);
    const info = this.info;
    info.seq = seq;
    info.len = 0;
    info.tag = undefined;
    info.tagSeq = seq;
    info.tagLen = 0;
    info.retransmit = false;
    this.emit(seg, now, 'fin');
    if (this.rtoAt === NO_DEADLINE) this.rtoAt = now + this.rto;
  }

  private retransmitRecord(i: number, now: number): void {
    const b = this.board;
    const seq = b.seqAt(i);
    const flags = b.flagsAt(i);
    const isFin = (flags & F_FIN) !== 0;
    const len = b.lenAt(i) - (isFin ? 1 : 0);
    const offset = seqSub(seq, this.sndUna);
    const info = this.info;
    info.seq = seq;
    info.len = len;
    info.retransmit = true;
    if (len > 0 && this.chunkSeq.length > this.chunkHead) this.tagFor(seq, info);
    else {
      info.tag = undefined;
      info.tagSeq = seq;
      info.tagLen = len;
    }
    const payload = len > 0 ? this.sndRing.view(offset, len) : EMPTY;
    const seg = this.newSeg(isFin ? ACK | FIN : ACK, seq, payload);
    b.markRetransmitted(i);
    this.retransmits++;
    this.countOut(len > 0 ? len : 1);
    this.emit(seg, now, isFin && len === 0 ? 'fin' : 'data');
    // Karn: a retransmission invalidates the timed segment.
    if (this.rttTime >= 0 && seqLt(seq, this.rttSeq)) this.rttTime = -1;
    if (this.rtoAt === NO_DEADLINE) this.rtoAt = now + this.rto;
    if (this.stallSince < 0) this.stallSince = now;
  }

  // ── Timers ──────────────────────────────────────────────────────────────────────────────────
  advance(now: number): void {
    if (this.state === TcpState.CLOSED) return;
    if (this.timeWaitAt <= now) {
      this.timeWaitAt = NO_DEADLINE;
      if (this.state === TcpState.TIME_WAIT || this.state === TcpState.FIN_WAIT_2) {
        this.toClosed(undefined, now);
        return;
      }
    }
    if (this.rtoAt <= now) {
      this.rtoAt = NO_DEADLINE;
      this.onRtoTimer(now);
      if (this.isClosed()) return;
    }
    if (this.persistAt <= now) {
      this.persistAt = NO_DEADLINE;
      this.onPersist(now);
    }
    if (this.keepaliveAt <= now) {
      this.keepaliveAt = NO_DEADLINE;
      this.onKeepalive(now);
      if (this.isClosed()) return;
    }
    if (this.tlpAt <= now) {
      this.tlpAt = NO_DEADLINE;
      this.onTlp(now);
    }
    if (this.delackAt <= now) {
      this.delackAt = NO_DEADLINE;
      this.ackNow = true;
    }
    this.output(now);
  }

  private onRtoTimer(now: number): void {
    const st = this.state;
    if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
      if (this.retries >= this.cfg.synRetries) {
        this.toClosed({ code: 'ETIMEDOUT', message: 'connection timed out (no answer to SYN)' }, now);
        return;
      }
      this.retries++;
      this.backoff++;
      this.rto = Math.min(this.rto * 2, this.cfg.rtoMax);
      this.rtoCount++;
      this.retransmits++;
      this.sendSyn(st === TcpState.SYN_RECEIVED, now);
      this.rtoAt = now + this.rto;
      this.hooks.onRto?.(this, this.backoff, now);
      return;
    }
    if (!seqLt(this.sndUna, this.sndMax)) return;
    if (
      this.retries >= this.cfg.dataRetries ||
      (this.cfg.userTimeoutMs > 0 && this.stallSince >= 0 && now - this.stallSince >= this.cfg.userTimeoutMs)
    ) {
      this.abort(now, undefined, { code: 'ETIMEDOUT', message: 'connection timed out (retransmissions)' });
      return;
    }
    this.retries++;
    this.rtoCount++;
    // Repeated timeouts keep ssthresh (RFC 5681 §3.1): only collapse cwnd again if it grew.
    if (this.backoff === 0 || this.cc.cwnd > this.mss) this.cc.onRto(now, this.flightSize);
    this.backoff++;
    this.rto = Math.min(this.rto * 2, this.cfg.rtoMax);
    // RFC 6675 §5.1 / RFC 5681: everything outstanding is due again, slow start from one MSS.
    this.board.markAllLost();
    this.tlpInFlight = false;
    this.recovery = 2;
    this.recoveryPoint = this.sndMax;
    this.dupAcks = 0;
    this.rttTime = -1;
    this.hooks.onRto?.(this, this.backoff, now);
    const i = this.board.nextLost();
    if (i >= 0) this.retransmitRecord(i, now);
    this.rtoAt = now + this.rto;
  }

  private onPersist(now: number): void {
    if (!this.synchronized || this.sndWnd > 0) return;
    // Zero-window probe: an old sequence number, no data, elicits an ACK with the window.
    const seg = this.newSeg(ACK, seqAdd(this.sndUna, -1), EMPTY);
    this.emit(seg, now, 'probe');
    this.persistBackoff++;
    this.armPersist(now);
  }

  private armKeepalive(now: number): void {
    if (this.cfg.keepaliveIdleMs > 0) this.keepaliveAt = now + this.cfg.keepaliveIdleMs;
  }

  private onKeepalive(now: number): void {
    if (!this.synchronized || this.state === TcpState.TIME_WAIT) return;
    const idle = now - this.lastHeard;
    if (idle < this.cfg.keepaliveIdleMs) {
      this.keepaliveProbesSent = 0;
      this.keepaliveAt = this.lastHeard + this.cfg.keepaliveIdleMs;
      return;
    }
    if (this.keepaliveProbesSent >= this.cfg.keepaliveProbes) {
      this.abort(now, undefined, { code: 'ETIMEDOUT', message: 'keepalive timed out' });
      return;
    }
    this.keepaliveProbesSent++;
    const seg = this.newSeg(ACK, seqAdd(this.sndUna, -1), EMPTY);
    this.emit(seg, now, 'probe');
    this.keepaliveAt = now + this.cfg.keepaliveIntervalMs;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * An empty number array already in V8's double-elements kind: sequence numbers above 2^30 turn a
 * fresh `[]` (small-integer elements) into doubles, and code optimized on an earlier connection's
 * arrays would deoptimize on the next connection's.
 */
function doubleArray(): number[] {
  const a = [0.5];
  a.pop();
  return a;
}
