/**
 * The multipath control block (one per connection, the IETF 80 design): a master subflow and slave
 * subflows, each a TCP control block (stack/tcp/tcb.ts) plugged into the connection through its
 * hooks; one shared send buffer scheduled at send time (each subflow pulls from it when its cwnd
 * opens, and the scheduler decides whether it may); no receive queue per subflow (bytes in order at
 * the subflow level go straight to the data-level reassembly).
 *
 * This file holds the connection and subflow logic; stack/mptcp/host.ts holds the NetCore around it
 * (demultiplexing, listeners, encoding). Plain TCP connections (fallback, mptcp_enabled = 0) use the
 * same classes in mode 'tcp'.
 *
 * How a subflow plugs into its TCB (stack/tcp/tcb.ts hooks):
 * - source.pull: the shared send buffer; the tag of a chunk is its data offset, so the DSS mapping
 *   of a segment is rebuilt from (tag, tagSeq, seq) on every (re)transmission;
 * - hooks.outgoing: MP_CAPABLE / MP_JOIN on handshakes, DSS (data ACK, mapping, DATA_FIN) on the
 *   rest, one-shot signals (ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_FAIL) on bare ACKs, MP_TCPRST on RSTs;
 * - hooks.incoming: keys and HMACs (a bad one refuses the SYN/ACK or resets the subflow), DSS,
 *   address signals; RSTs never reach this hook, so the host reads their options (MP_TCPRST,
 *   MP_FASTCLOSE) before handing them to the TCB;
 * - sink.deliver: in-order subflow bytes go through the mappings straight to the data level;
 *   sink.window: the connection-level receive window;
 * - onRto / onClosed: reinjection of what the subflow held; onAcked: clears the stall flag.
 * Data offsets are plain numbers (DSN - IDSN - 1); bigints appear only at the option boundary.
 */
import type { CoreEvent } from '../core/contract';
import type { CcGroup } from '../cc/types';
import type { PathManager } from '../pm/index';
import type { ConnReport, SubflowReport } from '../report';
import { hex32 } from '../report';
import { hasRoom, type SchedContext, type SchedSubflow, type Scheduler } from '../sched/index';
import {
  type OppBuffer,
  type OppLevel,
  oppPenalizes,
  oppPenaltyDue,
  oppPick,
  type OppTrigger,
  oppTrigger,
} from '../sched/opportunistic';
import { holeNeedsRepair, TX_MERGE_MS, type TxRange } from '../sched/hole';
import { PathRate } from '../sched/slow-queue';
import type { ByteRing } from '../tcp/ring';
import type { CloseError, OutInfo, Tcb, TcbHooks, TcbSink, TcbSource } from '../tcp/tcb';
import { dssChecksum } from '../wire/checksum';
import { addAddrHmac, joinAckHmac, joinSynAckHmac, tokenAndIdsn } from '../wire/crypto';
import {
  type AddAddr,
  type MpCapable,
  type Dss,
  type MptcpOption,
  TCPRST_MIDDLEBOX_INTERFERENCE,
  TCPRST_MPTCP_ERROR,
  type TcpOption,
  type TcpSegment,
} from '../wire/types';
import { dsnOf, offsetOf } from './dsn';
import type { LocalKey } from './keys';
import type { Mib } from './mib';
import { DataReassembly } from './reasm';
import { RxMappings } from './rxmap';
import { type Range, SharedSendBuffer } from './sendbuf';

/** What the connection needs from its host. */
export interface ConnHost {
  readonly mib: Mib;
  readonly pm: PathManager;
  readonly events: CoreEvent[];
  /** Marks a subflow whose TCB may have output. */
  dirty(sf: Subflow): void;
  /** Opens a join subflow for a path-manager row; returns it or undefined. */
  openJoin(conn: MpConn, pathIndex: number, now: number): Subflow | undefined;
  /** The connection is over: forget its token and subflows once they are closed. */
  connDone(conn: MpConn): void;
  readonly knobs: ConnKnobs;
  /** The host's clock (last `now` it was given). */
  readonly now: number;
}

export interface ConnKnobs {
  sharedMss: number;
  /** SYN retransmissions that still carry MP_CAPABLE before a plain SYN is tried. */
  synRetries: number;
  /** Joins to a connection's initial address and port are accepted (else the C flag is set). */
  allowJoinInitial: boolean;
  triggerBytes: number;
  triggerMs: number;
  addAddrTimeoutMs: number;
  /** net.mptcp.mptcp_sched_slow_queue */
  slowQueue: boolean;
  /** net.mptcp.mptcp_sched_blest */
  blest: boolean;
  /** net.mptcp.mptcp_opportunistic_retrans (0-3) */
  oppRetrans: OppLevel;
  /** net.mptcp.mptcp_hole_reinject */
  holeReinject: boolean;
}

const EMPTY = new Uint8Array(0);
/** Option bytes a data segment's DSS takes (data ACK 8, DSN 8, SSN, length, checksum): 28. */
export const DSS_RESERVE = 28;

function mptcpOpts(seg: TcpSegment, out: MptcpOption[]): MptcpOption[] {
  out.length = 0;
  for (const o of seg.options) if (o.kind === 'mptcp') out.push(o.mp);
  return out;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function addAddrLen(a: AddAddr): number {
  const v6 = a.address.includes(':');
  return 4 + (v6 ? 16 : 4) + (a.port === undefined ? 0 : 2) + (a.echo ? 0 : 8);
}

function oneShotLen(mp: MptcpOption): number {
  switch (mp.subtype) {
    case 'ADD_ADDR':
      return pad4(addAddrLen(mp));
    case 'REMOVE_ADDR':
      return pad4(3 + mp.addressIds.length);
    case 'MP_PRIO':
      return 4;
    case 'MP_FAIL':
    case 'MP_FASTCLOSE':
      return 12;
    default:
      return 40;
  }
}

export type SubflowRole = 'master' | 'join';

/** One TCP subflow of a multipath connection (or the only one of a plain TCP connection). */
export class Subflow implements TcbSource, TcbSink, TcbHooks, SchedSubflow {
  tcb!: Tcb;
  pathIndex = 1;
  localId = 0;
  remoteId = 0;
  /** Our backup flag, and the peer's (MP_PRIO / MP_JOIN B bit). */
  backupLocal = false;
  peerBackup = false;
  /** Join handshake. */
  localNonce = 0;
  remoteNonce = 0;
  /** Joins: true once the handshake is verified (both sides) and the peer acked it (active side). */
  joinReady = false;
  joinAckRetryAt = Number.POSITIVE_INFINITY;
  joinAckRetries = 0;
  /** No ACK progress since an RTO: do not schedule new data on it. */
  stalled = false;
  /** Blocked for the current pump (could not send). */
  blocked = false;
  readonly rx: RxMappings;
  /** Data ranges sent here and not yet data-acked, with when (for reinjection, hole repair). */
  readonly tx: TxRange[] = [];
  /** Private cursor of the redundant scheduler. */
  cursor = 0;
  reinjections = 0;
  reinjectedBytes = 0;
  closeReason: string | undefined;
  closed = false;
  /** Being torn down (address gone, reset pending): carries nothing more. */
  closing = false;
  /** One-shot options for the next bare ACK (ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_FAIL). */
  readonly pending: MptcpOption[] = [];
  /** Last time an opportunistic retransmission penalized this subflow. */
  penalizedAt = Number.NEGATIVE_INFINITY;
  /**
   * Data offset up to which what it held was sent again on a faster subflow (hole repair): it
   * takes no reinjections while that is still outstanding, and a range is repaired once.
   */
  repairedTo = 0;
  /** Delivery rate and minimum RTT (the slow-path queue cap reads them). */
  readonly rate = new PathRate();
  /** SYNs sent (master: MP_CAPABLE retries). */
  synsSent = 0;
  /** MP_TCPRST reason for an RST this subflow sends (undefined = none). */
  rstReason: number | undefined;
  /** Extra options on the RST (MP_FAIL with the reason). */
  rstExtra: MptcpOption[] = [];
  /** Receive side after sending MP_FAIL on the only subflow: discard until the infinite mapping. */
  awaitInfinite = false;
  /** Data bytes that arrived before the peer's key was known (server, lost third ACK). */
  early: { ssn: number; data: Uint8Array }[] = [];
  private readonly scratch: MptcpOption[] = [];

  constructor(
    readonly conn: MpConn,
    readonly role: SubflowRole,
    readonly local: { address: string; port: number },
    readonly remote: { address: string; port: number },
    readonly active: boolean,
  ) {
    this.rx = new RxMappings(conn.checksum);
  }

  // ── SchedSubflow ───────────────────────────────────────────────────────────────────────────
  get id(): number {
    return this.pathIndex;
  }
  get srttMs(): number {
    return this.tcb.srtt;
  }
  get cwnd(): number {
    return this.tcb.cc.cwnd;
  }
  get bytesInFlight(): number {
    return this.tcb.bytesInFlight;
  }
  get mss(): number {
    const s = this.conn.host.knobs.sharedMss;
    return s > 0 ? Math.min(s, this.tcb.mss) : this.tcb.mss;
  }
  get backup(): boolean {
    return this.backupLocal || this.peerBackup;
  }
  get minRttMs(): number {
    return this.rate.minRttMs;
  }
  get deliveryRate(): number {
    return this.rate.rate;
  }
  /** Established, verified, not stalled, not blocked: may take new data. */
  get usable(): boolean {
    return this.established && !this.stalled && !this.blocked;
  }
  /** Can carry data at all (scheduling of reinjections, DATA_FIN). */
  get established(): boolean {
    if (this.closed || this.closing || !this.tcb.active) return false;
    return this.role === 'master' || this.joinReady;
  }

  // ── TcbSource ──────────────────────────────────────────────────────────────────────────────
  available(_tcb: Tcb): number {
    return this.conn.availableFor(this);
  }

  pull(_tcb: Tcb, maxBytes: number, out: ByteRing): unknown {
    return this.conn.pullFor(this, maxBytes, out);
  }

  // ── TcbSink ────────────────────────────────────────────────────────────────────────────────
  deliver(tcb: Tcb, data: Uint8Array, seq: number, now: number): void {
    this.conn.subflowData(this, data.slice(), (seq - tcb.irs) >>> 0, now);
  }

  window(_tcb: Tcb): number {
    return this.conn.rq.window;
  }

  // ── TcbHooks ───────────────────────────────────────────────────────────────────────────────
  outgoing(tcb: Tcb, seg: TcpSegment, room: number, info: OutInfo): void {
    this.conn.decorate(this, tcb, seg, room, info);
  }

  incoming(_tcb: Tcb, seg: TcpSegment, now: number): boolean {
    return this.conn.inspect(this, seg, mptcpOpts(seg, this.scratch), now);
  }

  onEstablished(_tcb: Tcb, now: number): void {
    this.conn.subflowEstablished(this, now);
  }

  onPeerFin(_tcb: Tcb, now: number): void {
    this.conn.subflowPeerFin(this, now);
  }

  onClosed(_tcb: Tcb, error: CloseError | undefined, now: number): void {
    this.conn.subflowClosed(this, error, now);
  }

  onAcked(tcb: Tcb, bytes: number, now: number): void {
    this.stalled = false;
    this.rate.onAcked(bytes, now, tcb.srtt);
    this.conn.subflowAcked(this, bytes, now);
  }

  onRto(_tcb: Tcb, backoff: number, now: number): void {
    this.conn.subflowRto(this, backoff, now);
  }

  /** Records data offsets sent here (merging with the last range). */
  noteTx(start: number, end: number, now: number): void {
    const last = this.tx[this.tx.length - 1];
    if (last && last.end === start && now - last.at < TX_MERGE_MS) last.end = end;
    else this.tx.push({ start, end, at: now });
  }

  pruneTx(una: number): void {
    let i = 0;
    while (i < this.tx.length && this.tx[i]!.end <= una) i++;
    if (i > 0) this.tx.splice(0, i);
  }

  report(): SubflowReport {
    const t = this.tcb;
    return {
      pathIndex: this.pathIndex,
      local: { ...this.local },
      remote: { ...this.remote },
      endpoint: {
        srcAddr: this.local.address,
        dstAddr: this.remote.address,
        srcPort: this.local.port,
        dstPort: this.remote.port,
      },
      state: this.closed ? 'CLOSED' : t.stateName,
      mss: this.mss,
      cwnd: Math.round(t.cc.cwnd),
      ssthresh: Math.min(t.cc.ssthresh, Number.MAX_SAFE_INTEGER),
      srttMs: t.srtt,
      rttvarMs: t.rttvar,
      bytesInFlight: t.bytesInFlight,
      bytesSent: t.bytesSent,
      bytesAcked: t.bytesAcked,
      bytesReceived: t.bytesReceived,
      retransmits: t.retransmits,
      localId: this.localId,
      remoteId: this.remoteId,
      backup: this.backup,
      reinjections: this.reinjections,
      reinjectedBytes: this.reinjectedBytes,
      ...(this.closeReason ? { closeReason: this.closeReason } : {}),
    };
  }
}

export type ConnState =
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'CLOSED';

export interface ConnOptions {
  id: number;
  role: 'client' | 'server';
  /** MP_CAPABLE offered (client) or received and accepted (server). */
  mptcp: boolean;
  checksumWanted: boolean;
  sndBuf: number;
  rcvBuf: number;
  scheduler: Scheduler;
  cc: string;
  now: number;
}

export class MpConn {
  readonly id: number;
  readonly role: 'client' | 'server';
  state: ConnState;
  mode: 'mptcp' | 'tcp';
  /** Still negotiating MP_CAPABLE (until both keys are known or we fell back). */
  mpcPending: boolean;
  local: LocalKey | undefined;
  remoteKey: bigint | undefined;
  remoteToken = 0;
  remoteIdsn = 0n;
  checksumWanted: boolean;
  checksum = false;
  readonly sb: SharedSendBuffer;
  readonly rq: DataReassembly;
  readonly subflows: Subflow[] = [];
  master!: Subflow;
  sched: Scheduler;
  ccName: string;
  readonly ccGroup: CcGroup;
  private readonly ccTcbs: Tcb[];

  /** Call when a subflow is added or closed. */
  subflowsChanged(): void {
    this.ccTcbs.length = 0;
    for (const s of this.subflows) if (!s.closed && s.tcb) this.ccTcbs.push(s.tcb);
  }
  /** Peer's connection-level window edge (data offset); Infinity until the first data ACK. */
  peerEdge = Number.POSITIVE_INFINITY;
  /** The server's MP_CAPABLE had the C flag: no joins to its initial address. */
  peerNoJoinToInitial = false;
  /** Client: the server sent a DSS, the MP_CAPABLE exchange is confirmed. */
  peerSentDss = false;
  /** Data offset of the peer's DATA_FIN, -1 before. */
  rxFinOffset = -1;
  endEmitted = false;
  connectedEmitted = false;
  closedEmitted = false;
  appEnded = false;
  /** Server: the listening port the SYN came to. */
  listenPort = -1;
  finRtoAt = Number.POSITIVE_INFINITY;
  fallbackReason: string | undefined;
  /** After MP_FAIL: the data offset where our infinite mapping starts, -1 when not sending one. */
  infiniteOff = -1;
  /** Subflow seq where the infinite mapping starts (sender side). */
  infiniteSeq = 0;
  infiniteSent = false;
  writeBlocked = false;
  bytesDelivered = 0;
  bytesReceived = 0;
  readonly createdAt: number;
  establishedAt = -1;
  /** Path manager knows this connection. */
  inPm = false;
  triggerAt = Number.POSITIVE_INFINITY;
  /** ADD_ADDR we sent and wait to see echoed. */
  readonly addrPending = new Map<number, { opt: AddAddr; nextAt: number; tries: number }>();
  wantPump = false;
  /** Reused for every scheduling decision (no allocation per segment). */
  private readonly schedCtx: SchedContext = {
    queued: 0,
    windowBytes: Number.POSITIVE_INFINITY,
    policy: { slowQueue: true, blest: true },
    heldBy: 'none',
  };
  /** Bound once (no closure per segment): mapped bytes to the data level, in-order bytes to the app. */
  private readonly rxOut = (off: number, bytes: Uint8Array): void => this.rxBytes(off, bytes, this.host.now);
  private readonly toApp = (d: Uint8Array): void => {
    this.host.events.push({ type: 'data', conn: this.id, data: d });
  };
  /** Data-level retransmission timer: data outstanding and no data ACK progress. */
  dataRtoAt = Number.POSITIVE_INFINITY;
  private dataRtoBackoff = 0;
  constructor(
    readonly host: ConnHost,
    o: ConnOptions,
  ) {
    this.id = o.id;
    this.role = o.role;
    this.state = o.role === 'client' ? 'SYN_SENT' : 'SYN_RECEIVED';
    this.mode = o.mptcp ? 'mptcp' : 'tcp';
    this.mpcPending = o.mptcp;
    this.checksumWanted = o.checksumWanted;
    this.sb = new SharedSendBuffer(o.sndBuf);
    this.rq = new DataReassembly(o.rcvBuf);
    this.sched = o.scheduler;
    this.ccName = o.cc;
    this.createdAt = o.now;
    // The coupled algorithms read this on every ACK: one array, rebuilt when subflows change.
    const tcbs: Tcb[] = [];
    this.ccTcbs = tcbs;
    this.ccGroup = { subflows: () => tcbs };
  }

  get token(): number {
    return this.local?.token ?? 0;
  }

  /** 'tcp' for plain TCP and after any fallback (also the infinite-mapping one). */
  get effectiveMode(): 'mptcp' | 'tcp' {
    return this.mode === 'tcp' || this.infiniteRx || this.infiniteOff >= 0 ? 'tcp' : 'mptcp';
  }

  get live(): boolean {
    return this.state !== 'CLOSED';
  }

  /** A usable MPTCP connection (keys known, not fallen back). */
  get multipath(): boolean {
    return this.mode === 'mptcp' && !this.mpcPending && this.remoteKey !== undefined;
  }

  // ── Application side ───────────────────────────────────────────────────────────────────────
  write(data: Uint8Array, now: number): number {
    if (this.state === 'CLOSED' || this.appEnded) return 0;
    const n = this.sb.write(data);
    if (n < data.length) this.writeBlocked = true;
    if (n > 0) this.pump(now);
    return n;
  }

  end(now: number): void {
    if (this.appEnded || this.state === 'CLOSED') return;
    this.appEnded = true;
    this.sb.close();
    if (this.mode === 'tcp' || this.infiniteOff >= 0) {
      this.closeTcp(now);
      return;
    }
    if (this.state === 'ESTABLISHED') this.state = 'FIN_WAIT';
    else if (this.state === 'CLOSE_WAIT') this.state = 'CLOSING';
    this.pump(now);
  }

  consumed(bytes: number, now: number): void {
    const before = this.rq.window;
    this.rq.consumed(bytes);
    if (this.rq.window > before) {
      for (const s of this.subflows) {
        if (s.closed) continue;
        s.tcb.windowOpened(now);
        this.host.dirty(s);
      }
    }
  }

  /** MP_FASTCLOSE (or RST for plain TCP). */
  abort(now: number): void {
    if (this.state === 'CLOSED') return;
    const fast = this.multipath && this.remoteKey !== undefined;
    this.finish(undefined);
    for (const s of this.subflows) {
      if (s.closed) continue;
      const opts: TcpOption[] = [];
      if (fast && this.remoteKey !== undefined) {
        opts.push({ kind: 'mptcp', mp: { subtype: 'MP_FASTCLOSE', receiverKey: this.remoteKey } });
        this.host.mib.inc('MPFastcloseTx');
      }
      s.closeReason = 'fastclose';
      s.tcb.abort(now, opts);
      this.host.dirty(s);
    }
  }

  // ── Sending ────────────────────────────────────────────────────────────────────────────────
  /** The scheduler's pick for new data now (the knobs read at each decision: they are live). */
  private pickNew(): Subflow | undefined {
    const c = this.schedCtx;
    const k = this.host.knobs;
    c.queued = this.sb.unsent;
    c.windowBytes = Number.isFinite(this.peerEdge)
      ? Math.max(0, this.peerEdge - this.sb.una)
      : Number.POSITIVE_INFINITY;
    c.policy.slowQueue = k.slowQueue;
    c.policy.blest = k.blest;
    return this.sched.pick(this.subflows, c.queued, c) as Subflow | undefined;
  }

  /** Data offset limit the peer's connection-level window allows. */
  private get sendLimit(): number {
    return this.peerEdge;
  }

  availableFor(sf: Subflow): number {
    if (this.mode === 'tcp' || this.infiniteOff >= 0) {
      return sf === this.master || this.infiniteOff >= 0 ? this.sb.end - this.sb.nxt : 0;
    }
    if (this.mpcPending || !sf.established || sf.stalled || this.backupIdle(sf)) return 0;
    const re = this.leavesReinjection(sf) ? 0 : this.sb.reinjectBytes;
    if (re > 0) return re;
    if (this.sched.redundant)
      return Math.max(0, Math.min(this.sb.end, this.sendLimit) - Math.max(sf.cursor, this.sb.una));
    const unsent = Math.min(this.sb.end, this.sendLimit) - this.sb.nxt;
    if (unsent <= 0) {
      const opp = this.opportunistic(sf, Number.POSITIVE_INFINITY);
      return opp ? opp.end - opp.start : 0;
    }
    if (this.pickNew() !== sf) {
      this.wantPump = true;
      return 0;
    }
    return unsent;
  }

  pullFor(sf: Subflow, maxBytes: number, out: ByteRing): unknown {
    const shared = this.host.knobs.sharedMss;
    if (shared > 0 && maxBytes > shared) maxBytes = shared;
    let r: Range | undefined;
    if (this.mode === 'tcp' || this.infiniteOff >= 0) {
      r = this.sb.takeNew(maxBytes, Number.POSITIVE_INFINITY);
    } else {
      if (this.mpcPending || !sf.established || sf.stalled || this.backupIdle(sf)) return undefined;
      if (this.sb.reinject.length > 0 && !this.leavesReinjection(sf)) {
        r = this.sb.takeReinject(maxBytes);
        if (r) {
          sf.reinjections++;
          sf.reinjectedBytes += r.end - r.start;
          this.host.mib.inc('Reinjections');
          this.host.mib.inc('ReinjectedBytes', r.end - r.start);
        }
      }
      if (!r) {
        if (this.sched.redundant) {
          r = this.sb.takeAt(sf.cursor, maxBytes, this.sendLimit);
          if (r) sf.cursor = r.end;
        } else {
          if (this.pickNew() !== sf) {
            this.wantPump = true;
            return undefined;
          }
          r = this.sb.takeNew(maxBytes, this.sendLimit);
          if (!r) {
            r = this.opportunistic(sf, maxBytes);
            if (r) this.tookOpportunistic(sf, r);
          }
        }
      }
    }
    if (!r) return undefined;
    const len = r.end - r.start;
    if (this.mode === 'mptcp' && this.dataRtoAt === Number.POSITIVE_INFINITY) this.armDataRto(this.host.now);
    out.push(this.sb.bytes(r.start, len));
    sf.noteTx(r.start, r.end, this.host.now);
    this.sched.sent(sf.pathIndex);
    return r.start;
  }

  /**
   * A subflow whose data hole repair is sending again elsewhere leaves the reinjection queue to
   * the others while another can carry it (the copy must not go back the slow way), and takes it
   * when none can: the others gone (the queue then holds what they stranded), or under repair
   * themselves (each leaving it to the other, nobody would send it).
   */
  private leavesReinjection(sf: Subflow): boolean {
    const una = this.sb.una;
    if (sf.repairedTo <= una) return false;
    for (const s of this.subflows) if (s !== sf && s.usable && s.repairedTo <= una) return true;
    return false;
  }

  /** A backup subflow stays idle while a regular one can carry data. */
  private backupIdle(sf: Subflow): boolean {
    if (!sf.backup) return false;
    for (const s of this.subflows) if (!s.backup && s.established && !s.stalled) return true;
    return false;
  }

  /** End of the data already sent again opportunistically. */
  private oppDone = 0;
  private readonly oppBuf: OppBuffer = { una: 0, nxt: 0, end: 0, sendLimit: 0, finOffset: -1, room: 0 };
  /** Why the last opportunistic range was offered (for the penalty). */
  private oppWhy: OppTrigger = 'window';

  /**
   * Opportunistic retransmission (stack/sched/opportunistic.ts, the level is the knob): the range
   * `sf` would send again now, at most `max` bytes.
   */
  private opportunistic(sf: Subflow, max: number): Range | undefined {
    const sb = this.sb;
    const b = this.oppBuf;
    b.una = sb.una;
    b.nxt = sb.nxt;
    b.end = sb.end;
    b.sendLimit = this.sendLimit;
    b.finOffset = sb.finOffset;
    b.room = sb.room;
    const why = oppTrigger(this.host.knobs.oppRetrans, b);
    if (why === undefined) return undefined;
    const got = oppPick(sf, this.subflows, Math.max(sb.una, this.oppDone), sb.nxt, max);
    if (!got) return undefined;
    this.oppWhy = why;
    return got.range;
  }

  private tookOpportunistic(sf: Subflow, r: Range): void {
    this.oppDone = r.end;
    sf.reinjections++;
    sf.reinjectedBytes += r.end - r.start;
    this.host.mib.inc('OpportunisticRetrans');
    this.host.mib.inc('OpportunisticRetransBytes', r.end - r.start);
    if (!oppPenalizes(this.host.knobs.oppRetrans, this.oppWhy)) return;
    const now = this.host.now;
    for (const s of this.subflows) {
      if (s === sf || s.closed || !s.tx.some((x) => x.start <= r.start && r.start < x.end)) continue;
      this.penalize(s, now);
      break;
    }
  }

  /** The slow subflow that held the window or a hole: cwnd halved, at most once per its RTT. */
  private penalize(s: Subflow, now: number): void {
    if (!oppPenaltyDue(s.penalizedAt, now, s.srttMs)) return;
    s.penalizedAt = now;
    const cc = s.tcb.cc as unknown as { cwnd: number; ssthresh: number };
    cc.cwnd = Math.max(Math.floor(cc.cwnd / 2), s.tcb.mss);
    cc.ssthresh = Math.max(cc.cwnd, 2 * s.tcb.mss);
    this.host.mib.inc('Penalizations');
  }

  /**
   * Hole repair (stack/sched/hole.ts): a much slower subflow in loss recovery that holds the
   * data-level left edge has what it holds queued for reinjection on the others. Run after every
   * input and timer (the host's `after`), so a recovery is seen as soon as it starts and again when
   * the left edge moves onto a subflow already recovering.
   */
  checkHoles(now: number): void {
    if (this.mode !== 'mptcp' || !this.multipath || this.infiniteOff >= 0) return;
    if (!this.host.knobs.holeReinject) return;
    const una = this.sb.una;
    for (const s of this.subflows) {
      if (s.closed || !holeNeedsRepair(s, this.subflows, una, now)) continue;
      let bytes = 0;
      for (const r of s.tx)
        if (r.end > s.repairedTo) bytes += this.sb.queueReinject(Math.max(r.start, s.repairedTo), r.end);
      s.repairedTo = s.tx[s.tx.length - 1]!.end;
      this.host.mib.inc('HoleReinjections');
      this.host.mib.inc('HoleReinjectedBytes', bytes);
      this.wantPump = true;
    }
  }

  /**
   * Lets every subflow send what the scheduler gives it: picks the subflow the scheduler wants,
   * lets its TCB send, and moves on when it cannot.
   */
  pump(now: number): void {
    if (this.state === 'CLOSED') return;
    this.wantPump = false;
    if (this.mode === 'tcp' || this.mpcPending || this.infiniteOff >= 0) {
      if (this.tcpFinPending && this.master.tcb.synchronized) this.closeTcp(now);
      for (const s of this.subflows) {
        if (s.closed) continue;
        s.tcb.output(now);
        this.host.dirty(s);
      }
      return;
    }
    for (let guard = 0; guard < 4 * this.subflows.length + 4; guard++) {
      const before = this.sb.nxt + this.sb.reinjectBytes;
      let sf: Subflow | undefined;
      if (this.sb.reinject.length > 0 || !this.sched.redundant) {
        if (this.sb.reinject.length > 0) sf = this.fastestWithRoom();
        else {
          sf = this.pickNew();
          const held = this.schedCtx.heldBy;
          if (held === 'slow-queue') this.host.mib.inc('SlowQueueHeld');
          else if (held === 'blest') this.host.mib.inc('BlestSkipped');
        }
      }
      if (!sf) break;
      sf.tcb.output(now);
      this.host.dirty(sf);
      if (this.sb.nxt + this.sb.reinjectBytes === before) sf.blocked = true;
    }
    for (const s of this.subflows) {
      if (s.blocked) s.blocked = false;
      else if (this.sched.redundant && !s.closed) {
        s.tcb.output(now);
        this.host.dirty(s);
      }
    }
    this.maybeSendDataFin(now);
  }

  private fastestWithRoom(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const s of this.subflows) {
      if (!s.usable || !hasRoom(s) || this.leavesReinjection(s)) continue;
      if (!best || (s.srttMs || 1e9) < (best.srttMs || 1e9)) best = s;
    }
    return best;
  }

  private maybeSendDataFin(now: number): void {
    if (!this.multipath || this.sb.finOffset < 0 || this.sb.finAcked) return;
    if (this.sb.nxt < this.sb.finOffset || this.sb.reinject.length > 0) return;
    if (this.finRtoAt !== Number.POSITIVE_INFINITY && now < this.finRtoAt) return;
    // Each (re)transmission goes on the next working subflow: a dead path must not hold it.
    const live = this.subflows.filter((s) => s.established && !s.stalled);
    const pool = live.length > 0 ? live : this.subflows.filter((s) => s.established);
    if (pool.length === 0) return;
    pool.sort((a, b) => (a.srttMs || 1e9) - (b.srttMs || 1e9));
    const sf = pool[this.finTries++ % pool.length]!;
    this.finPendingOn = sf;
    sf.tcb.sendAck(now);
    this.finPendingOn = undefined;
    this.host.dirty(sf);
    this.host.mib.inc('DataFinTx');
    const rto = Math.max(200, 2 * (sf.srttMs || 100));
    this.finRtoAt = now + rto;
  }

  private finPendingOn: Subflow | undefined;
  private finTries = 0;

  private fastestEstablished(): Subflow | undefined {
    let best: Subflow | undefined;
    for (const s of this.subflows) {
      if (!s.established || (s.stalled && this.subflows.some((o) => o.established && !o.stalled))) continue;
      if (!best || (s.srttMs || 1e9) < (best.srttMs || 1e9)) best = s;
    }
    return best;
  }

  // ── Options on outgoing segments ──────────────────────────────────────────────────────────
  decorate(sf: Subflow, tcb: Tcb, seg: TcpSegment, room: number, info: OutInfo): void {
    const opts = seg.options;
    switch (info.kind) {
      case 'syn':
        if (sf.role === 'master') {
          if (this.mode === 'mptcp' && sf.synsSent++ > this.host.knobs.synRetries) {
            // MP_CAPABLE SYNs go unanswered: a middlebox may drop them. Try plain TCP.
            this.fallback('SYN retries with MP_CAPABLE exhausted');
            this.host.mib.inc('MPCapableFallbackSYNACK');
          }
          if (this.mode === 'mptcp') {
            opts.push({ kind: 'mptcp', mp: this.mpc(undefined, undefined) });
            this.host.mib.inc('MPCapableSYNTX');
          }
        } else {
          opts.push({
            kind: 'mptcp',
            mp: {
              subtype: 'MP_JOIN',
              form: 'syn',
              backup: sf.backupLocal,
              addressId: sf.localId,
              token: this.remoteToken,
              nonce: sf.localNonce,
            },
          });
          this.host.mib.inc('MPJoinSynTx');
        }
        return;
      case 'synack':
        if (sf.role === 'master') {
          if (this.mode === 'mptcp' && this.local) {
            const mp = this.mpc(this.local.key, undefined);
            mp.c = !this.host.knobs.allowJoinInitial;
            opts.push({ kind: 'mptcp', mp });
          }
        } else if (this.local && this.remoteKey !== undefined) {
          opts.push({
            kind: 'mptcp',
            mp: {
              subtype: 'MP_JOIN',
              form: 'synack',
              backup: sf.backupLocal,
              addressId: sf.localId,
              truncatedHmac: joinSynAckHmac(this.local.key, this.remoteKey, sf.localNonce, sf.remoteNonce),
              nonce: sf.localNonce,
            },
          });
        }
        return;
      case 'rst': {
        if (sf.rstReason !== undefined && room >= 4) {
          opts.push({
            kind: 'mptcp',
            mp: { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: false, reason: sf.rstReason },
          });
          this.host.mib.inc('MPRstTx');
          room -= 4;
        }
        for (const mp of sf.rstExtra) {
          if (oneShotLen(mp) <= room) {
            opts.push({ kind: 'mptcp', mp });
            room -= oneShotLen(mp);
          }
        }
        sf.rstExtra = [];
        return;
      }
      default:
        break;
    }
    if (this.mode === 'tcp') return;
    // Active joins: the third ACK carries the HMAC (repeated until the peer acks it).
    if (sf.role === 'join' && sf.active && !sf.joinReady) {
      if (info.kind === 'ack' && this.local && this.remoteKey !== undefined && room >= 24) {
        opts.push({
          kind: 'mptcp',
          mp: {
            subtype: 'MP_JOIN',
            form: 'ack',
            hmac: joinAckHmac(this.local.key, this.remoteKey, sf.localNonce, sf.remoteNonce),
          },
        });
      }
      return;
    }
    if (!this.local) return;
    const data = info.len > 0 && info.tag !== undefined;
    const bareRoom = room;
    // Client, master: MP_CAPABLE with both keys until the server shows it has them (a DSS).
    if (this.role === 'client' && sf.role === 'master' && !this.peerSentDss && this.remoteKey !== undefined) {
      if (!data) {
        // A pending signal (ADD_ADDR echo...) rides beside it; one too big for both goes alone with
        // the data ACK, and the keys go on the next bare ACK (host.flush sends one while any wait).
        const first = sf.pending[0];
        if (first === undefined || 20 + oneShotLen(first) <= room) {
          if (room >= 20) {
            opts.push({ kind: 'mptcp', mp: this.mpc(this.local.key, this.remoteKey) });
            room -= 20;
          }
          this.placeSignals(sf, opts, room, bareRoom);
          return;
        }
      }
    }
    if (
      this.role === 'client' &&
      sf.role === 'master' &&
      !this.peerSentDss &&
      this.remoteKey !== undefined &&
      data
    ) {
      const off = (info.tag as number) + ((info.seq - info.tagSeq) >>> 0);
      if (off === 0) {
        const mp = this.mpc(this.local.key, this.remoteKey);
        mp.dataLength = info.len;
        if (this.checksum) mp.checksum = dssChecksum(dsnOf(this.local.idsn, 0), 1, info.len, seg.payload);
        opts.push({ kind: 'mptcp', mp });
        return;
      }
    }
    if (this.remoteKey === undefined) return;
    // After the infinite mapping: plain TCP on the wire (only that segment carries it again).
    if (this.infiniteSent && sf === this.master && !(data && info.seq === this.infiniteSeq)) return;
    // One-shot signalling options go on bare ACKs.
    if (!data && sf.pending.length > 0) room = this.placeSignals(sf, opts, room, bareRoom);
    const dss: Dss = { subtype: 'DSS', dataFin: false, dataAck8: true };
    const rxFinAcked = this.rxFinOffset >= 0 && this.rq.rcvNxt >= this.rxFinOffset;
    dss.dataAck = dsnOf(this.remoteIdsn, this.rq.rcvNxt + (rxFinAcked ? 1 : 0));
    let need = 12;
    if (data) {
      const off = (info.tag as number) + ((info.seq - info.tagSeq) >>> 0);
      const ssn = (info.seq - tcb.iss) >>> 0;
      const dsn = dsnOf(this.local.idsn, off);
      if (
        this.infiniteOff >= 0 &&
        (this.infiniteSent ? info.seq === this.infiniteSeq : off === this.infiniteOff && !info.retransmit)
      ) {
        // MP_FAIL fallback: one infinite mapping, then plain TCP.
        dss.mapping = { dsn, dsn8: true, ssn, length: 0 };
        if (this.checksum) dss.mapping.checksum = 0;
        if (!this.infiniteSent) this.host.mib.inc('InfiniteMapTx');
        this.infiniteSent = true;
        this.infiniteSeq = info.seq;
      } else {
        dss.mapping = { dsn, dsn8: true, ssn, length: info.len };
        if (this.checksum) dss.mapping.checksum = dssChecksum(dsn, ssn, info.len, seg.payload);
      }
      need = this.checksum ? 28 : 26;
    } else if (this.finPendingOn === sf && this.sb.finOffset >= 0) {
      dss.mapping = { dsn: dsnOf(this.local.idsn, this.sb.finOffset), dsn8: true, ssn: 0, length: 1 };
      if (this.checksum) dss.mapping.checksum = dssChecksum(dss.mapping.dsn, 0, 1, EMPTY);
      dss.dataFin = true;
      need = this.checksum ? 28 : 26;
    }
    if (!dss.mapping) {
      // A bare ACK: a 4-octet data ACK (RFC 8684 3.3; the peer infers the upper half) leaves room
      // for two SACK blocks beside the timestamps.
      dss.dataAck8 = false;
      dss.dataAck &= 0xffff_ffffn;
      need = 8;
    }
    if (need <= room) opts.push({ kind: 'mptcp', mp: dss });
    else if (dss.mapping && room >= need - 8) {
      // Short of room: the mapping matters more than the data ACK (data must never go unmapped).
      delete dss.dataAck;
      opts.push({ kind: 'mptcp', mp: dss });
    } else if (!dss.mapping && room >= 8) opts.push({ kind: 'mptcp', mp: dss });
  }

  /**
   * Moves pending one-shot signals into a bare ACK's options while they fit; returns the room left.
   * One that cannot fit even in an otherwise empty bare ACK (`bareRoom`) is dropped, so it never
   * holds the queue (host.flush sends bare ACKs while signals wait).
   */
  private placeSignals(sf: Subflow, opts: TcpOption[], room: number, bareRoom: number): number {
    while (sf.pending.length > 0) {
      const mp = sf.pending[0]!;
      const need = oneShotLen(mp);
      if (need > room) {
        if (need > bareRoom) {
          sf.pending.shift();
          this.host.mib.inc('AddAddrTxDrop');
          continue;
        }
        break;
      }
      sf.pending.shift();
      opts.push({ kind: 'mptcp', mp });
      room -= need;
    }
    return room;
  }

  private mpc(sender: bigint | undefined, receiver: bigint | undefined) {
    const mp: MpCapable = {
      subtype: 'MP_CAPABLE',
      version: 1,
      a: sender === undefined ? this.checksumWanted : this.checksum,
      b: false,
      c: false,
      h: true,
      flags: 0,
    };
    if (sender !== undefined) mp.senderKey = sender;
    if (receiver !== undefined) mp.receiverKey = receiver;
    return mp;
  }

  // ── Options on incoming segments ──────────────────────────────────────────────────────────
  /** Returns false to refuse a SYN/ACK (or drop another segment). */
  inspect(sf: Subflow, seg: TcpSegment, mps: MptcpOption[], now: number): boolean {
    const syn = (seg.flags & 0x02) !== 0;
    const mib = this.host.mib;
    if (syn) {
      // SYN/ACK on an active subflow (passive SYNs are vetted by the host).
      if (!sf.active) return true;
      if (sf.role === 'master') {
        const mpc = mps.find((m) => m.subtype === 'MP_CAPABLE');
        if (this.mode === 'mptcp' && mpc && mpc.subtype === 'MP_CAPABLE' && mpc.senderKey !== undefined) {
          mib.inc('MPCapableSYNACKRX');
          this.peerNoJoinToInitial = mpc.c;
          this.setRemoteKey(mpc.senderKey);
          this.checksum = this.checksumWanted || mpc.a;
          sf.rx.checksums = this.checksum;
          this.mpcPending = false;
        } else if (this.mode === 'mptcp') {
          this.fallback(
            this.mode === 'mptcp' && mpc ? 'bad MP_CAPABLE on SYN/ACK' : 'SYN/ACK without MP_CAPABLE',
          );
          mib.inc('MPCapableFallbackSYNACK');
        }
        return true;
      }
      const j = mps.find((m) => m.subtype === 'MP_JOIN');
      mib.inc('MPJoinSynAckRx');
      if (j?.subtype !== 'MP_JOIN' || j.form !== 'synack' || !this.local || this.remoteKey === undefined) {
        sf.rstReason = TCPRST_MPTCP_ERROR;
        sf.closeReason = 'join: SYN/ACK without MP_JOIN';
        mib.inc('MPJoinRefused');
        return false;
      }
      sf.remoteNonce = j.nonce;
      const expect = joinSynAckHmac(this.remoteKey, this.local.key, j.nonce, sf.localNonce);
      if (expect !== j.truncatedHmac) {
        sf.rstReason = TCPRST_MPTCP_ERROR;
        sf.closeReason = 'join: bad SYN/ACK HMAC';
        mib.inc('MPJoinSynAckHMacFailure');
        mib.inc('MPJoinRefused');
        return false;
      }
      sf.remoteId = j.addressId;
      if (j.backup) sf.peerBackup = true;
      sf.joinAckRetryAt = now + 1000;
      return true;
    }

    // Passive join: the third ACK carries the HMAC.
    if (sf.role === 'join' && !sf.active && !sf.joinReady) {
      const j = mps.find((m) => m.subtype === 'MP_JOIN');
      if (j?.subtype !== 'MP_JOIN' || j.form !== 'ack' || !this.local || this.remoteKey === undefined) {
        if (sf.tcb.synchronized) return this.inspectData(sf, seg, mps, now);
        sf.rstReason = TCPRST_MPTCP_ERROR;
        sf.closeReason = 'join: third ACK without MP_JOIN';
        mib.inc('MPJoinRefused');
        this.deferAbort(sf);
        return false;
      }
      mib.inc('MPJoinAckRx');
      const expect = joinAckHmac(this.remoteKey, this.local.key, sf.remoteNonce, sf.localNonce);
      let ok = expect.length === j.hmac.length;
      for (let i = 0; ok && i < expect.length; i++) if (expect[i] !== j.hmac[i]) ok = false;
      if (!ok) {
        sf.rstReason = TCPRST_MPTCP_ERROR;
        sf.closeReason = 'join: bad third-ACK HMAC';
        mib.inc('MPJoinAckHMacFailure');
        mib.inc('MPJoinRefused');
        this.deferAbort(sf);
        return false;
      }
      sf.joinReady = true;
      mib.inc('MPJoinAccepted');
      return this.inspectData(sf, seg, mps, now);
    }

    // Passive join already verified: a repeated third ACK means our fourth ACK was lost.
    if (sf.role === 'join' && !sf.active && sf.joinReady && seg.payload.length === 0) {
      for (const m of mps) {
        if (m.subtype !== 'MP_JOIN' || m.form !== 'ack') continue;
        sf.tcb.sendAck(now);
        this.host.dirty(sf);
        break;
      }
    }
    // Active join waiting for the fourth ACK: any segment from the peer completes it.
    if (sf.role === 'join' && sf.active && !sf.joinReady && sf.tcb.synchronized) {
      sf.joinReady = true;
      sf.stalled = false;
      sf.joinAckRetryAt = Number.POSITIVE_INFINITY;
      mib.inc('MPJoinAccepted');
      const row = this.host.pm.row(this.token, sf.pathIndex);
      if (row) this.host.pm.established(this.token, sf.pathIndex);
      this.wantPump = true;
    }
    return this.inspectData(sf, seg, mps, now);
  }

  private deferAbort(sf: Subflow): void {
    sf.closing = true;
    this.pendingAborts.push(sf);
  }

  readonly pendingAborts: Subflow[] = [];
  /** Consecutive segments from the peer without any MPTCP option (only subflow). */
  private noDss = 0;
  /** Data went on the master in order from offset 0 (subflow byte n = data offset n - 1). */
  private masterSequential = true;

  /** Falls back on the sending side: the only subflow's ACKs are the data ACKs from now on. */
  private senderFallback(sf: Subflow): void {
    this.infiniteOff = 0;
    this.infiniteSeq = (sf.tcb.iss + 1) >>> 0;
    this.infiniteSent = true;
    if (!this.fallbackReason) this.fallbackReason = 'peer stopped sending DSS (options stripped)';
    this.host.mib.inc('Fallbacks');
    const past = (sf.tcb.sndUna - this.infiniteSeq) | 0;
    if (past > 0 && this.sb.ack(past) > 0) this.bytesDelivered = this.sb.una;
    if (this.appEnded) this.closeTcp(this.host.now);
    this.wantPump = true;
  }

  private inspectData(sf: Subflow, seg: TcpSegment, mps: MptcpOption[], now: number): boolean {
    const mib = this.host.mib;
    if (this.mode === 'tcp') return true;
    // Server: MP_CAPABLE on the third ACK / first data packet.
    if (this.mpcPending && sf.role === 'master' && this.role === 'server') {
      const mpc = mps.find((m) => m.subtype === 'MP_CAPABLE');
      if (
        mpc &&
        mpc.subtype === 'MP_CAPABLE' &&
        mpc.senderKey !== undefined &&
        mpc.receiverKey !== undefined
      ) {
        if (this.local && mpc.receiverKey !== this.local.key) {
          // Not our key: treat as a broken negotiation.
          this.fallback('MP_CAPABLE echoed a wrong key');
          mib.inc('MPCapableFallbackACK');
          return true;
        }
        mib.inc('MPCapableACKRX');
        this.setRemoteKey(mpc.senderKey);
        this.mpcPending = false;
        this.checksum = this.checksumWanted || mpc.a;
        sf.rx.checksums = this.checksum;
        if (mpc.dataLength !== undefined && mpc.dataLength > 0) {
          sf.rx.add(1, 0, mpc.dataLength, dsnOf(this.remoteIdsn, 0), mpc.dataLength, mpc.checksum);
        }
        this.replayEarly(sf, now);
        this.becomeEstablished(now);
      } else if (mps.length === 0 && this.remoteKey === undefined) {
        // The first segment after the handshake carries no MPTCP option: options stripped.
        this.fallback('third ACK without MP_CAPABLE');
        mib.inc('MPCapableFallbackACK');
        return true;
      } else if (this.remoteKey === undefined) {
        // DSS before the keys (the third ACK and first data were lost): keep them for later.
        for (const m of mps) {
          if (m.subtype === 'DSS' && m.mapping && this.earlyMaps.length < RxMappings.MAX)
            this.earlyMaps.push(m.mapping);
        }
        return true;
      }
    }
    let sawDss = false;
    // The server has the keys once it sends a DSS: known before any signal on the same segment is
    // answered (an ADD_ADDR echo must not wait behind a repeated MP_CAPABLE).
    if (this.role === 'client' && sf.role === 'master' && !this.peerSentDss) {
      for (const m of mps) if (m.subtype === 'DSS') this.peerSentDss = true;
    }
    for (const m of mps) {
      switch (m.subtype) {
        case 'DSS':
          sawDss = true;
          this.onDss(sf, seg, m, now);
          break;
        case 'MP_CAPABLE':
          if (
            m.dataLength !== undefined &&
            m.dataLength > 0 &&
            this.remoteKey !== undefined &&
            this.role === 'server'
          ) {
            sf.rx.add(1, 0, m.dataLength, dsnOf(this.remoteIdsn, 0), m.dataLength, m.checksum);
          }
          break;
        case 'ADD_ADDR':
          this.onAddAddr(sf, m, now);
          break;
        case 'REMOVE_ADDR':
          mib.inc('RmAddr');
          for (const id of m.addressIds) this.host.pm.removeRemoteAddress(this.token, id);
          this.processPm(now);
          break;
        case 'MP_PRIO':
          mib.inc('MPPrioRx');
          sf.peerBackup = m.backup;
          this.wantPump = true;
          break;
        case 'MP_FAIL':
          mib.inc('MPFailRx');
          this.onMpFail(sf, m.dsn, now);
          break;
        case 'MP_FASTCLOSE':
          this.onFastclose(m.receiverKey, now);
          return false;
        default:
          break;
      }
    }
    if (sawDss && this.role === 'client' && sf.role === 'master') this.peerSentDss = true;
    // The peer's segments stopped carrying DSS on our only subflow: options are being stripped.
    if (this.multipath && sf === this.master && this.subflows.length === 1 && this.infiniteOff < 0) {
      if (mps.length > 0) this.noDss = 0;
      else if (++this.noDss >= 4 && this.masterSequential) this.senderFallback(sf);
    }
    if (!sawDss && seg.payload.length > 0 && this.multipath && !sf.awaitInfinite && sf.rx.size === 0) {
      mib.inc('DSSNoMatchTCP');
    }
    return true;
  }

  private readonly earlyMaps: NonNullable<Dss['mapping']>[] = [];

  private onDss(sf: Subflow, seg: TcpSegment, m: Dss, now: number): void {
    if (this.remoteKey === undefined || !this.local) return;
    if (m.dataAck !== undefined) {
      const off = offsetOf(this.local.idsn, m.dataAck, m.dataAck8, this.sb.una);
      const wnd = seg.window * 2 ** sf.tcb.sndWscale;
      this.onDataAck(off, wnd, now);
    }
    const map = m.mapping;
    if (!map) return;
    const off = offsetOf(this.remoteIdsn, map.dsn, map.dsn8, this.rq.rcvNxt);
    if (map.length === 0) {
      // Infinite mapping: the peer fell back after MP_FAIL.
      this.host.mib.inc('InfiniteMapRx');
      sf.rx.clear();
      sf.rx.add(map.ssn, off, Number.POSITIVE_INFINITY, map.dsn, 0);
      sf.awaitInfinite = false;
      this.infiniteRx = true;
      if (!this.fallbackReason) this.fallbackReason = 'infinite mapping after MP_FAIL';
      this.host.mib.inc('Fallbacks');
      return;
    }
    if (sf.awaitInfinite) return;
    let len = map.length;
    if (m.dataFin) {
      len -= 1;
      const finOff = off + len;
      if (this.rxFinOffset < 0) {
        this.rxFinOffset = finOff;
        this.host.mib.inc('DataFinRx');
      }
      this.checkRxFin(now);
      sf.tcb.sendAck(now);
      this.host.dirty(sf);
    }
    if (len > 0 && map.ssn !== 0) sf.rx.add(map.ssn, off, len, map.dsn, map.length, map.checksum);
  }

  infiniteRx = false;

  private onDataAck(off: number, wnd: number, now: number): void {
    const acked = this.sb.ack(off);
    const edge = Math.max(off, this.sb.una) + wnd;
    if (this.peerEdge === Number.POSITIVE_INFINITY || edge > this.peerEdge) {
      if (edge > this.peerEdge || this.peerEdge === Number.POSITIVE_INFINITY) this.wantPump = true;
      this.peerEdge = edge;
    }
    if (acked > 0) {
      this.bytesDelivered += acked;
      this.dataRtoBackoff = 0;
      this.dataRtoAt = Number.POSITIVE_INFINITY;
      for (const s of this.subflows) s.pruneTx(this.sb.una);
      this.wantPump = true;
      if (this.writeBlocked && this.sb.room > 0) {
        this.writeBlocked = false;
        this.host.events.push({ type: 'writable', conn: this.id });
      }
      this.checkTrigger(now);
    }
    if (acked > 0) this.armDataRto(now);
    if (this.sb.finAcked) {
      this.finRtoAt = Number.POSITIVE_INFINITY;
      this.dataRtoAt = Number.POSITIVE_INFINITY;
      this.checkDone(now);
    }
  }

  private onAddAddr(sf: Subflow, m: AddAddr, now: number): void {
    const mib = this.host.mib;
    if (m.echo) {
      mib.inc('EchoAdd');
      this.addrPending.delete(m.addressId);
      return;
    }
    if (!this.local || this.remoteKey === undefined) return;
    const expect = addAddrHmac(this.remoteKey, this.local.key, m.addressId, m.address, m.port);
    if (m.hmac !== expect) {
      mib.inc('AddAddrBadHmac');
      return;
    }
    mib.inc('AddAddr');
    const echo: AddAddr = { subtype: 'ADD_ADDR', echo: true, addressId: m.addressId, address: m.address };
    if (m.port !== undefined) echo.port = m.port;
    sf.pending.push(echo);
    sf.tcb.sendAck(now);
    this.host.dirty(sf);
    this.host.pm.addRemoteAddress(this.token, {
      id: m.addressId,
      address: m.address,
      ...(m.port !== undefined ? { port: m.port } : {}),
    });
    this.processPm(now);
  }

  private onMpFail(sf: Subflow, dsn: bigint, now: number): void {
    if (!this.local) return;
    const off = offsetOf(this.local.idsn, dsn, true, this.sb.una);
    const others = this.subflows.filter((s) => s !== sf && s.established);
    if (others.length > 0) {
      // The peer will reset this subflow; what it carried goes on the others.
      this.strand(sf);
      return;
    }
    // Only subflow: fall back with an infinite mapping from the failed data on.
    this.fallbackReason = 'MP_FAIL (DSS checksum failure)';
    this.host.mib.inc('Fallbacks');
    const from = Math.max(this.sb.una, Math.min(off, this.sb.nxt));
    this.masterSequential = false;
    this.sb.nxt = from;
    this.sb.reinject.length = 0;
    this.infiniteOff = from;
    this.infiniteSent = false;
    this.master = sf;
    this.wantPump = true;
    // Termination is TCP's from now on: FIN after the data.
    if (this.appEnded) this.closeTcp(now);
  }

  private onFastclose(key: bigint, now: number): void {
    if (!this.local || key !== this.local.key) return;
    this.host.mib.inc('MPFastcloseRx');
    for (const s of this.subflows) {
      if (s.closed) continue;
      s.closeReason = 'peer fastclose';
      this.deferAbort(s);
    }
    this.finish({ code: 'ECONNRESET', message: 'connection closed by the peer (MP_FASTCLOSE)' });
    void now;
  }

  /** An RST arrived on a subflow (the host parses its options: the TCB does not show RSTs). */
  rstOptions(sf: Subflow, mps: MptcpOption[], now: number): void {
    for (const m of mps) {
      if (m.subtype === 'MP_TCPRST') {
        this.host.mib.inc('MPRstRx');
        sf.closeReason = `peer reset (MP_TCPRST reason ${m.reason})`;
      } else if (m.subtype === 'MP_FASTCLOSE') {
        this.onFastclose(m.receiverKey, now);
      } else if (m.subtype === 'MP_FAIL') {
        this.host.mib.inc('MPFailRx');
      }
    }
  }

  // ── Receiving data ─────────────────────────────────────────────────────────────────────────
  subflowData(sf: Subflow, data: Uint8Array, ssn: number, now: number): void {
    if (this.state === 'CLOSED') return;
    if (this.mode === 'tcp' || (this.infiniteRx && sf.rx.size === 0)) {
      // Plain TCP: subflow bytes are the stream (ssn 1 = offset 0).
      this.rxBytes((ssn - 1) >>> 0, data, now);
      return;
    }
    if (this.remoteKey === undefined) {
      // Bytes before the peer's key (its third ACK and first data were lost): kept, within bounds.
      this.earlyBytes += data.length;
      if (this.earlyBytes > this.rq.capacity || this.early.length > 4096) {
        sf.rstReason = TCPRST_MPTCP_ERROR;
        sf.closeReason = 'data without the MP_CAPABLE keys';
        this.deferAbort(sf);
        return;
      }
      this.early.push({ ssn, data });
      return;
    }
    if (sf.awaitInfinite) return;
    const res = sf.rx.feed(ssn, data, this.rxOut);
    if (res === 'checksum') this.checksumFailed(sf, now);
    else if (res === 'unmapped' && !this.infiniteRx) {
      const at = sf.rx.stoppedAt;
      this.unmapped(sf, (ssn + at) >>> 0, data.subarray(at), now);
    }
  }

  private readonly early: { ssn: number; data: Uint8Array }[] = [];
  private earlyBytes = 0;

  private replayEarly(sf: Subflow, now: number): void {
    for (const m of this.earlyMaps) {
      sf.rx.add(m.ssn, offsetOf(this.remoteIdsn, m.dsn, m.dsn8, 0), m.length, m.dsn, m.length, m.checksum);
    }
    this.earlyMaps.length = 0;
    const e = this.early.splice(0);
    this.earlyBytes = 0;
    for (const x of e) this.subflowData(sf, x.data, x.ssn, now);
  }

  rxBytes(off: number, bytes: Uint8Array, now: number): void {
    const dup = this.rq.duplicates;
    const ofo = this.rq.ofoSegments;
    const n = this.rq.add(off, bytes, this.toApp);
    if (this.rq.duplicates !== dup) this.host.mib.inc('DuplicateData');
    if (this.rq.ofoSegments !== ofo) this.host.mib.inc('OFOQueue');
    if (n > 0) {
      this.bytesReceived += n;
      this.checkTrigger(now);
    }
    this.checkRxFin(now);
  }

  private checkRxFin(now: number): void {
    if (this.rxFinOffset < 0 || this.endEmitted || this.rq.rcvNxt < this.rxFinOffset) return;
    this.endEmitted = true;
    this.host.events.push({ type: 'end', conn: this.id });
    if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
    else if (this.state === 'FIN_WAIT') this.state = 'CLOSING';
    // Acknowledge the DATA_FIN at once.
    for (const s of this.subflows) {
      if (!s.established) continue;
      s.tcb.sendAck(now);
      this.host.dirty(s);
      break;
    }
    this.checkDone(now);
  }

  private checksumFailed(sf: Subflow, now: number): void {
    const mib = this.host.mib;
    mib.inc('DataCsumErr');
    const failed = sf.rx.failed;
    const dsn = failed ? failed.dsn : dsnOf(this.remoteIdsn, this.rq.rcvNxt);
    const others = this.subflows.filter((s) => s !== sf && s.established);
    mib.inc('MPFailTx');
    if (others.length > 0) {
      // RFC 8684 §3.7: reset the subflow (MP_FAIL + MP_TCPRST); the sender reinjects on others.
      sf.rstReason = TCPRST_MIDDLEBOX_INTERFERENCE;
      sf.rstExtra = [{ subtype: 'MP_FAIL', dsn }];
      sf.closeReason = 'DSS checksum failure';
      this.host.pm.pathDown(this.token, sf.pathIndex, now, false);
      this.deferAbort(sf);
      return;
    }
    // The only subflow: MP_FAIL, then wait for the peer's infinite mapping (fallback).
    sf.awaitInfinite = true;
    sf.rx.clear();
    sf.pending.unshift({ subtype: 'MP_FAIL', dsn });
    sf.tcb.sendAck(now);
    this.host.dirty(sf);
  }

  private unmapped(sf: Subflow, ssn: number, rest: Uint8Array, now: number): void {
    const mib = this.host.mib;
    mib.inc('DSSNotMatching');
    // The only subflow there ever was, its bytes continuing the data stream without a gap: the
    // DSS options were stripped on the path. Fall back (an implicit infinite mapping from here),
    // as RFC 8684 section 3.7 allows, rather than reset the connection.
    const contiguous =
      (sf.rx.lastSsnEnd < 0 ? ssn === 1 && this.rq.rcvNxt === 0 : sf.rx.lastSsnEnd === ssn) &&
      (sf.rx.lastOffEnd < 0 || sf.rx.lastOffEnd === this.rq.rcvNxt);
    if (sf.role === 'master' && this.subflows.length === 1 && contiguous && this.rq.outOfOrderBytes === 0) {
      sf.rx.clear();
      sf.rx.add(ssn, this.rq.rcvNxt, Number.POSITIVE_INFINITY, dsnOf(this.remoteIdsn, this.rq.rcvNxt), 0);
      this.infiniteRx = true;
      if (!this.fallbackReason) this.fallbackReason = 'data without DSS mapping (options stripped)';
      mib.inc('Fallbacks');
      this.subflowData(sf, rest, ssn, now);
      return;
    }
    sf.rstReason = TCPRST_MPTCP_ERROR;
    sf.closeReason = 'data without DSS mapping';
    this.deferAbort(sf);
    void now;
  }

  // ── Subflow events ─────────────────────────────────────────────────────────────────────────
  subflowEstablished(sf: Subflow, now: number): void {
    if (sf.role === 'master') {
      if (this.mode === 'tcp' || !this.mpcPending) this.becomeEstablished(now);
      return;
    }
    this.host.mib.inc('SubflowsOpened');
    if (!sf.active) {
      // Passive join verified: the fourth ACK lets the other side send.
      sf.tcb.sendAck(now);
      this.host.dirty(sf);
      const pathIndex = this.host.pm.joined(
        this.token,
        {
          srcAddr: sf.local.address,
          dstAddr: sf.remote.address,
          srcPort: sf.local.port,
          dstPort: sf.remote.port,
        },
        sf.localId,
        sf.remoteId,
        sf.backup,
      );
      if (pathIndex > 0) sf.pathIndex = pathIndex;
      this.wantPump = true;
    }
  }

  becomeEstablished(now: number): void {
    if (this.state !== 'SYN_SENT' && this.state !== 'SYN_RECEIVED') return;
    this.state = this.appEnded ? 'FIN_WAIT' : 'ESTABLISHED';
    this.establishedAt = now;
    if (!this.connectedEmitted) {
      this.connectedEmitted = true;
      this.host.events.push(
        this.role === 'client'
          ? { type: 'connected', conn: this.id }
          : { type: 'accepted', conn: this.id, port: this.listenPort },
      );
    }
    if (this.multipath && !this.inPm) {
      const k = this.host.knobs;
      const open = k.triggerBytes === 0 && k.triggerMs === 0;
      this.host.pm.addConnection(
        this.token,
        {
          srcAddr: this.master.local.address,
          dstAddr: this.master.remote.address,
          srcPort: this.master.local.port,
          dstPort: this.master.remote.port,
        },
        this.role === 'client',
        { open, backup: this.master.backupLocal, noJoinToInitial: this.peerNoJoinToInitial },
      );
      this.inPm = true;
      if (!open && k.triggerMs > 0) this.triggerAt = now + k.triggerMs;
      this.processPm(now);
    }
    this.wantPump = true;
  }

  private checkTrigger(now: number): void {
    if (!this.inPm || this.host.pm.isOpen(this.token)) {
      this.triggerAt = Number.POSITIVE_INFINITY;
      return;
    }
    const k = this.host.knobs;
    const moved = this.bytesDelivered + this.bytesReceived;
    if ((k.triggerBytes > 0 && moved >= k.triggerBytes) || (k.triggerMs > 0 && now >= this.triggerAt)) {
      this.host.pm.trigger(this.token);
      this.triggerAt = Number.POSITIVE_INFINITY;
      this.processPm(now);
    }
  }

  subflowPeerFin(sf: Subflow, now: number): void {
    if (this.mode === 'tcp' || this.infiniteRx) {
      if (!this.endEmitted) {
        this.endEmitted = true;
        this.host.events.push({ type: 'end', conn: this.id });
      }
      if (this.state === 'ESTABLISHED') this.state = 'CLOSE_WAIT';
      else if (this.state === 'FIN_WAIT') this.state = 'CLOSING';
      return;
    }
    // The peer closed one subflow (not the connection: that is DATA_FIN): close our side of it
    // too, after what it holds, and send nothing new on it; what it carried goes on the others.
    if (this.state !== 'CLOSED' && !sf.closing) {
      sf.closing = true;
      sf.closeReason = 'peer closed the subflow (FIN)';
      if (this.subflows.some((s) => s !== sf && s.established)) this.strand(sf);
      this.pendingCloses.push(sf);
      this.wantPump = true;
    }
    void now;
  }

  /** Subflows to close gracefully (FIN) once the current input is processed. */
  readonly pendingCloses: Subflow[] = [];

  subflowClosed(sf: Subflow, error: CloseError | undefined, now: number): void {
    if (sf.closed) return;
    sf.closed = true;
    this.subflowsChanged();
    if (!sf.closeReason) sf.closeReason = error ? `${error.code}: ${error.message}` : 'closed';
    this.host.mib.inc('SubflowsClosed');
    if (this.state === 'CLOSED') return;
    if ((this.mode === 'tcp' || this.infiniteRx || this.infiniteOff >= 0) && sf === this.master) {
      if (error) this.finish(error);
      else if (this.appEnded || this.endEmitted) this.finish(undefined);
      else this.finish(undefined);
      return;
    }
    if (this.inPm) this.host.pm.pathDown(this.token, sf.pathIndex, now);
    this.strand(sf);
    const alive = this.subflows.some((s) => !s.closed);
    if (!alive) {
      if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED') {
        this.finish(error ?? { code: 'ECONNREFUSED', message: 'connection refused' });
      } else if (this.sb.finAcked && this.endEmitted) {
        this.finish(undefined);
      } else {
        this.finish(error ?? { code: 'ECONNRESET', message: 'every subflow closed' });
      }
      return;
    }
    this.wantPump = true;
  }

  /** Queues what a failed subflow held (not yet data-acked) for reinjection on others. */
  strand(sf: Subflow): void {
    for (const r of sf.tx) this.sb.queueReinject(r.start, r.end);
    sf.tx.length = 0;
    this.wantPump = true;
  }

  subflowAcked(sf: Subflow, bytes: number, now: number): void {
    let acked = 0;
    if (this.mode === 'tcp') {
      // Plain TCP: subflow ACKs are data ACKs.
      acked = this.sb.ack(this.sb.una + bytes);
    } else if (this.infiniteSent && sf === this.master) {
      // After the infinite mapping: subflow bytes past its start map one to one.
      const past = (sf.tcb.sndUna - this.infiniteSeq) | 0;
      if (past > 0) acked = this.sb.ack(this.infiniteOff + past);
    }
    if (acked > 0) {
      this.bytesDelivered += acked;
      if (this.writeBlocked && this.sb.room > 0) {
        this.writeBlocked = false;
        this.host.events.push({ type: 'writable', conn: this.id });
      }
    }
    void bytes;
    void now;
  }

  subflowRto(sf: Subflow, backoff: number, now: number): void {
    if (this.mode !== 'mptcp' || !this.multipath) return;
    // A SYN (or a join not yet confirmed) timing out holds no data: nothing to reinject, and a stall
    // flag set now would never clear (only acked data clears it, and a stalled subflow gets none).
    if (!sf.established) return;
    const others = this.subflows.some((s) => s !== sf && s.established && !s.stalled);
    if (!others) return;
    // A stalled subflow: send what it holds on the others too (the design's reinjection).
    sf.stalled = true;
    if (backoff >= 1) this.strand(sf);
    void now;
  }

  // ── Path manager ───────────────────────────────────────────────────────────────────────────
  processPm(now: number): void {
    if (!this.inPm) return;
    const pm = this.host.pm;
    for (const a of pm.takeActions(this.token)) {
      switch (a.type) {
        case 'announce': {
          if (!this.local || this.remoteKey === undefined) break;
          const opt: AddAddr = {
            subtype: 'ADD_ADDR',
            echo: false,
            addressId: a.id,
            address: a.address,
            hmac: addAddrHmac(this.local.key, this.remoteKey, a.id, a.address),
          };
          this.addrPending.set(a.id, { opt, nextAt: now, tries: 0 });
          break;
        }
        case 'withdraw': {
          this.addrPending.delete(a.id);
          const sf = this.fastestEstablished();
          if (sf) {
            sf.pending.push({ subtype: 'REMOVE_ADDR', addressIds: [a.id] });
            sf.tcb.sendAck(now);
            this.host.dirty(sf);
            this.host.mib.inc('RmAddrTx');
          }
          break;
        }
        case 'close': {
          const sf = this.subflows.find((s) => s.pathIndex === a.pathIndex && !s.closed);
          if (sf) {
            sf.closeReason = a.reason;
            sf.closing = true;
            this.host.mib.inc('RmSubflow');
            this.deferAbort(sf);
          }
          break;
        }
        case 'prio': {
          const sf = this.subflows.find((s) => s.pathIndex === a.pathIndex && !s.closed);
          if (sf) {
            sf.backupLocal = a.backup;
            sf.pending.push({ subtype: 'MP_PRIO', backup: a.backup });
            sf.tcb.sendAck(now);
            this.host.dirty(sf);
            this.host.mib.inc('MPPrioTx');
          }
          break;
        }
      }
    }
    this.sendAddAddrs(now);
    this.openPaths(now);
  }

  private sendAddAddrs(now: number): void {
    if (this.addrPending.size === 0) return;
    const sf = this.fastestEstablished();
    if (!sf) return;
    const timeout = this.host.knobs.addAddrTimeoutMs;
    let sent = false;
    for (const [id, p] of this.addrPending) {
      if (p.nextAt > now) continue;
      sf.pending.push(p.opt);
      this.host.mib.inc('AddAddrTx');
      p.tries++;
      sent = true;
      if (timeout <= 0 || p.tries >= 4) this.addrPending.delete(id);
      else p.nextAt = now + timeout;
    }
    if (sent) {
      sf.tcb.sendAck(now);
      this.host.dirty(sf);
    }
  }

  private openPaths(now: number): void {
    if (!this.multipath || this.state === 'CLOSED' || this.sb.finAcked) return;
    for (const row of this.host.pm.nextToBuild(this.token, now)) {
      this.host.openJoin(this, row.pathIndex, now);
    }
  }

  // ── Timers ─────────────────────────────────────────────────────────────────────────────────
  /** Arms the data-level timer when data is outstanding (a last resort behind subflow RTOs). */
  private armDataRto(now: number): void {
    if (this.dataRtoAt !== Number.POSITIVE_INFINITY || !this.multipath) return;
    if (this.sb.una >= Math.max(this.sb.nxt, this.sb.maxSent)) return;
    // the subflows that can still carry data set the pace: a dead one's backed-off RTO (tens of
    // seconds) would put this last resort out of reach
    let rto = 0;
    for (const s of this.subflows) if (s.established && !s.stalled) rto = Math.max(rto, s.tcb.rto);
    if (rto === 0) for (const s of this.subflows) if (s.established) rto = Math.max(rto, s.tcb.rto);
    this.dataRtoAt = now + Math.max(1000, 2 * rto) * 2 ** Math.min(this.dataRtoBackoff, 6);
  }

  private dataRtoFired(now: number): void {
    this.dataRtoAt = Number.POSITIVE_INFINITY;
    const top = Math.max(this.sb.nxt, this.sb.maxSent);
    if (this.sb.una >= top || !this.multipath) return;
    // Nothing moved at the data level for several RTOs: send the oldest data again elsewhere.
    this.host.mib.inc('MPTCPRetrans');
    this.masterSequential = false;
    this.sb.queueReinject(this.sb.una, Math.min(top, this.sb.una + 64 * 1024));
    this.dataRtoBackoff++;
    this.wantPump = true;
    this.armDataRto(now);
  }

  deadline(): number {
    let d = this.finRtoAt;
    if (this.dataRtoAt < d) d = this.dataRtoAt;
    if (this.triggerAt < d) d = this.triggerAt;
    for (const p of this.addrPending.values()) if (p.nextAt < d) d = p.nextAt;
    if (this.inPm && this.multipath && !this.sb.finAcked) {
      const r = this.host.pm.nextRetry(this.token);
      if (r < d) d = r;
    }
    for (const s of this.subflows) if (!s.closed && s.joinAckRetryAt < d) d = s.joinAckRetryAt;
    return d;
  }

  advance(now: number): void {
    if (this.state === 'CLOSED') return;
    if (now >= this.dataRtoAt) this.dataRtoFired(now);
    if (now >= this.triggerAt) this.checkTrigger(now);
    if (now >= this.finRtoAt) {
      this.finRtoAt = Number.POSITIVE_INFINITY;
      this.maybeSendDataFin(now);
    }
    for (const s of this.subflows) {
      if (s.closed || now < s.joinAckRetryAt) continue;
      if (++s.joinAckRetries > 5) {
        // The peer never confirmed the join: give the subflow up.
        s.joinAckRetryAt = Number.POSITIVE_INFINITY;
        s.rstReason = TCPRST_MPTCP_ERROR;
        s.closeReason = 'join: no fourth ACK';
        this.deferAbort(s);
        continue;
      }
      s.joinAckRetryAt = now + 1000 * 2 ** (s.joinAckRetries - 1);
      s.tcb.sendAck(now);
      this.host.dirty(s);
    }
    if (this.inPm) this.processPm(now);
  }

  // ── Fallback and the end ───────────────────────────────────────────────────────────────────
  /**
   * Plain TCP (or after a fallback): the application's end is the master's FIN, once its handshake
   * is done (closing a TCB in SYN-SENT would drop the connection instead).
   */
  private closeTcp(now: number): void {
    const t = this.master.tcb;
    if (!t.synchronized && t.stateName !== 'SYN_RECEIVED') {
      this.tcpFinPending = true;
      return;
    }
    this.tcpFinPending = false;
    t.close(now);
    this.host.dirty(this.master);
  }

  private tcpFinPending = false;

  fallback(reason: string): void {
    if (this.mode === 'tcp') return;
    this.mode = 'tcp';
    this.mpcPending = false;
    this.fallbackReason = reason;
    this.host.mib.inc('Fallbacks');
    // The application may have ended already (in MPTCP terms): its FIN is now TCP's.
    if (this.appEnded) {
      this.tcpFinPending = true;
      this.wantPump = true;
    }
    if (this.inPm) {
      this.host.pm.removeConnection(this.token);
      this.inPm = false;
    }
  }

  private checkDone(now: number): void {
    if (this.mode !== 'mptcp' || this.state === 'CLOSED') return;
    if (!this.sb.finAcked || !this.endEmitted) return;
    // Both DATA_FINs exchanged: close every subflow (FIN) and report the connection closed.
    for (const s of this.subflows) {
      if (s.closed) continue;
      s.tcb.close(now);
      this.host.dirty(s);
    }
    this.finish(undefined);
  }

  finish(error: { code: string; message: string } | undefined): void {
    if (this.state === 'CLOSED') return;
    this.state = 'CLOSED';
    // A passive connection that never completed its handshake was never announced: no event.
    if (!this.closedEmitted && (this.role === 'client' || this.connectedEmitted)) {
      this.closedEmitted = true;
      this.host.events.push(
        error ? { type: 'closed', conn: this.id, error } : { type: 'closed', conn: this.id },
      );
    }
    if (this.inPm) {
      this.host.pm.removeConnection(this.token);
      this.inPm = false;
    }
    this.host.connDone(this);
  }

  setRemoteKey(key: bigint): void {
    this.remoteKey = key;
    const t = tokenAndIdsn(key);
    this.remoteToken = t.token;
    this.remoteIdsn = t.idsn;
  }

  report(): ConnReport {
    const r: ConnReport = {
      conn: this.id,
      mode: this.effectiveMode,
      state: this.state,
      role: this.role,
      checksum: this.checksum,
      bytesDelivered: this.bytesDelivered,
      bytesReceived: this.bytesReceived,
      scheduler: this.sched.name,
      cc: this.ccName,
      subflows: this.subflows.map((s) => s.report()),
    };
    if (this.local && this.mode === 'mptcp') r.localToken = hex32(this.local.token);
    if (this.remoteKey !== undefined && this.mode === 'mptcp') r.remoteToken = hex32(this.remoteToken);
    if (this.local && this.fallbackReason) r.localToken = hex32(this.local.token);
    if (this.fallbackReason) r.fallback = this.fallbackReason;
    if (this.local && this.remoteKey !== undefined) {
      r.data = {
        sndUna: dsnOf(this.local.idsn, this.sb.una).toString(),
        sndNxt: dsnOf(this.local.idsn, this.sb.nxt).toString(),
        rcvNxt: dsnOf(this.remoteIdsn, this.rq.rcvNxt).toString(),
        sndWnd: Number.isFinite(this.peerEdge) ? Math.max(0, this.peerEdge - this.sb.una) : -1,
        rcvWnd: this.rq.window,
      };
    }
    return r;
  }
}
