/**
 * `MptcpHost`: the stack's NetCore with MPTCP v1 (RFC 8684). Demultiplexes segments to subflows by
 * 4-tuple, SYNs to listeners (MP_CAPABLE) or to connections by token (MP_JOIN), runs the path
 * manager, and holds the knob registry and the MIB. Plain TCP peers (and mptcp_enabled = 0) get
 * plain TCP connections from the same code (stack/mptcp/conn.ts in mode 'tcp').
 */
import '../cc/lia';
import '../cc/olia';
import '../cc/balia';
import type {
  ConnectOptions,
  ConnInfo,
  ConnStats,
  CoreEvent,
  NetCore,
  Packet,
  UnreachableCode,
} from '../core/contract';
import { PathManager, type PmStrategy } from '../pm/index';
import { formatCoreReport, hex32, type CoreReport } from '../report';
import { createScheduler } from '../sched/index';
import type { OppLevel } from '../sched/opportunistic';
import { Sysctl } from '../sysctl';
import { isnFor, newIsnSecret } from '../tcp/isn';
import { Tcb, type TcbConfig, TcpState } from '../tcp/tcb';
import { generateNonce } from '../wire/crypto';
import { decodeSegment, encodeSegment, verifySegmentChecksum } from '../wire/tcp';
import {
  ACK,
  isParseError,
  type MptcpOption,
  RST,
  SYN,
  TCPRST_ADMIN_PROHIBITED,
  TCPRST_MPTCP_ERROR,
  type TcpOption,
  type TcpSegment,
} from '../wire/types';
import { type ConnHost, type ConnKnobs, DSS_RESERVE, MpConn, Subflow } from './conn';
import { TokenTable } from './keys';
import { Mib } from './mib';

export interface MptcpHostOptions {
  /** Local addresses (setAddresses can change them later). */
  addresses?: string[];
  /** The knob registry (a fresh one with defaults when absent). */
  sysctl?: Sysctl;
  /** Uniform u32 source for ephemeral ports and join nonces in tests (node:crypto otherwise). */
  random?: () => number;
  /** 64-bit key source (node:crypto by default). */
  keygen?: () => bigint;
  /** RFC 6528 ISN secret (fresh random by default). */
  isnSecret?: Uint8Array;
  /** Extra TCB settings for every subflow. */
  tcb?: Partial<TcbConfig>;
  /** Compute and verify TCP checksums (default true). */
  checksums?: boolean;
  /**
   * MSS to announce per local address (the path MTU minus 40 bytes of IP and TCP headers), for
   * path-specific MSS; absent addresses use the TCB default (1460).
   */
  mssByAddress?: Record<string, number>;
  /** Most half-open passive connections; further SYNs are dropped (default 1024). */
  synBacklog?: number;
}

interface Stats {
  synDropped: number;
  badSegments: number;
  badChecksums: number;
  rstSent: number;
  noListener: number;
}

function tupleKey(la: string, lp: number, ra: string, rp: number): string {
  return `${la}|${lp}|${ra}|${rp}`;
}

function mptcpOf(seg: TcpSegment): MptcpOption[] {
  const out: MptcpOption[] = [];
  for (const o of seg.options) if (o.kind === 'mptcp') out.push(o.mp);
  return out;
}

export class MptcpHost implements NetCore, ConnHost {
  readonly sysctl: Sysctl;
  readonly mib = new Mib();
  readonly pm: PathManager;
  readonly events: CoreEvent[] = [];
  readonly stats: Stats = { synDropped: 0, badSegments: 0, badChecksums: 0, rstSent: 0, noListener: 0 };
  readonly tokens: TokenTable<MpConn>;
  knobs: ConnKnobs;
  private addresses: string[] = [];
  private readonly listeners = new Set<number>();
  private readonly conns = new Map<number, MpConn>();
  private readonly byTuple = new Map<string, Subflow>();
  private readonly dirtySet = new Set<Subflow>();
  private output: Packet[] = [];
  private nextConn = 1;
  private nextPort: number;
  private readonly random: () => number;
  private readonly isnSecret: Uint8Array;
  private readonly tcbExtra: Partial<TcbConfig>;
  private readonly checksums: boolean;
  private readonly mssByAddress: Record<string, number>;
  private readonly synBacklog: number;
  private halfOpen = 0;
  now = 0;

  constructor(options: MptcpHostOptions = {}) {
    this.sysctl = options.sysctl ?? new Sysctl();
    this.random = options.random ?? generateNonce;
    this.tokens = new TokenTable<MpConn>(options.keygen);
    this.isnSecret = options.isnSecret ?? newIsnSecret();
    this.tcbExtra = options.tcb ?? {};
    this.checksums = options.checksums ?? true;
    this.mssByAddress = options.mssByAddress ?? {};
    this.synBacklog = options.synBacklog ?? 1024;
    this.nextPort = 32768 + (this.random() % 28000);
    const s = this.sysctl;
    this.pm = new PathManager({
      strategy: s.getString('net.mptcp.mptcp_path_manager') as PmStrategy,
      ndiffports: s.getInt('net.mptcp.mptcp_ndiffports'),
    });
    this.knobs = this.readKnobs();
    s.onChange((name, value) => this.knobChanged(name, value));
    if (options.addresses) this.setAddresses(options.addresses, 0);
  }

  private readKnobs(): ConnKnobs {
    const s = this.sysctl;
    return {
      sharedMss: s.getInt('net.mptcp.mptcp_mss'),
      synRetries: s.getInt('net.mptcp.mptcp_syn_retries'),
      allowJoinInitial: s.getInt('net.mptcp.mptcp_allow_join_initial_addr_port') === 1,
      triggerBytes: s.getInt('net.mptcp.mptcp_trigger_bytes'),
      triggerMs: s.getInt('net.mptcp.mptcp_trigger_ms'),
      addAddrTimeoutMs: s.getInt('net.mptcp.mptcp_add_addr_timeout'),
      slowQueue: s.getInt('net.mptcp.mptcp_sched_slow_queue') === 1,
      blest: s.getInt('net.mptcp.mptcp_sched_blest') === 1,
      oppRetrans: s.getInt('net.mptcp.mptcp_opportunistic_retrans') as OppLevel,
      holeReinject: s.getInt('net.mptcp.mptcp_hole_reinject') === 1,
    };
  }

  private knobChanged(name: string, value: number | string): void {
    this.knobs = this.readKnobs();
    this.pm.configure({
      strategy: this.sysctl.getString('net.mptcp.mptcp_path_manager') as PmStrategy,
      ndiffports: this.sysctl.getInt('net.mptcp.mptcp_ndiffports'),
    });
    if (name === 'net.mptcp.mptcp_scheduler') {
      for (const c of this.conns.values()) if (c.mode === 'mptcp') c.sched = createScheduler(String(value));
    } else if (name === 'net.mptcp.mptcp_cc') {
      for (const c of this.conns.values()) {
        if (c.mode !== 'mptcp') continue;
        c.ccName = String(value);
        for (const s of c.subflows) if (!s.closed) this.swapCc(s, c, String(value));
      }
    }
  }

  private swapCc(s: Subflow, c: MpConn, name: string): void {
    const old = s.tcb.cc;
    const factory = (this.tcbConfigFor(c, name).cc as string) ?? name;
    const fresh = createCcFor(factory, s.tcb, c);
    const f = fresh as unknown as { cwnd: number; ssthresh: number };
    f.cwnd = old.cwnd;
    f.ssthresh = old.ssthresh;
    s.tcb.cc = fresh;
  }

  // ── NetCore ────────────────────────────────────────────────────────────────────────────────
  input(packet: Packet, now: number): void {
    this.now = now;
    const seg = decodeSegment(packet.data);
    if (isParseError(seg)) {
      this.stats.badSegments++;
      return;
    }
    if (this.checksums && !verifySegmentChecksum(packet.data, packet.src, packet.dst)) {
      this.stats.badChecksums++;
      return;
    }
    if (!this.addresses.includes(packet.dst)) return;
    const sf = this.byTuple.get(tupleKey(packet.dst, seg.dstPort, packet.src, seg.srcPort));
    if (sf) {
      // This subflow's answer leaves before anything it triggers on others (e.g. the third ACK
      // before the join SYNs it lets the path manager open).
      this.dirty(sf);
      if (seg.flags & RST) sf.conn.rstOptions(sf, mptcpOf(seg), now);
      sf.tcb.input(seg, now);
      this.after(sf.conn, now);
      this.flush(now);
      return;
    }
    if (seg.flags & RST) return;
    if ((seg.flags & (SYN | ACK)) === SYN) this.inputSyn(packet, seg, now);
    else this.sendRst(packet, seg);
    this.flush(now);
  }

  advance(now: number): void {
    this.now = now;
    for (const sf of this.byTuple.values()) {
      if (sf.tcb.nextDeadline() <= now) {
        sf.tcb.advance(now);
        this.dirty(sf);
      }
    }
    for (const c of this.conns.values()) {
      if (c.deadline() <= now) c.advance(now);
      this.after(c, now);
    }
    this.flush(now);
  }

  nextDeadline(): number {
    let d = Number.POSITIVE_INFINITY;
    for (const sf of this.byTuple.values()) {
      const t = sf.tcb.nextDeadline();
      if (t < d) d = t;
    }
    for (const c of this.conns.values()) {
      const t = c.deadline();
      if (t < d) d = t;
    }
    return d;
  }

  takeOutput(): Packet[] {
    const o = this.output;
    this.output = [];
    return o;
  }

  takeEvents(): CoreEvent[] {
    if (this.events.length === 0) return [];
    return this.events.splice(0);
  }

  listen(port: number): void {
    this.listeners.add(port);
  }

  unlisten(port: number): void {
    this.listeners.delete(port);
  }

  connect(options: ConnectOptions, now: number): number {
    this.now = now;
    const local = options.localAddress ?? this.sourceFor(options.host);
    const id = this.nextConn++;
    const enabled = this.sysctl.getInt('net.mptcp.mptcp_enabled') === 1;
    const conn = this.newConn(id, 'client', enabled, now);
    if (!local) {
      this.events.push({
        type: 'closed',
        conn: id,
        error: { code: 'EADDRNOTAVAIL', message: 'no local address' },
      });
      return id;
    }
    const port = options.localPort ?? this.ephemeral(local, options.host, options.port);
    if (enabled) conn.local = this.tokens.allocate(conn);
    const sf = new Subflow(
      conn,
      'master',
      { address: local, port },
      { address: options.host, port: options.port },
      true,
    );
    sf.backupLocal = this.pm.isBackupAddress(local);
    this.attachTcb(sf, conn, now);
    conn.master = sf;
    conn.subflows.push(sf);
    conn.subflowsChanged();
    this.conns.set(id, conn);
    sf.tcb.connect(now);
    this.dirty(sf);
    this.flush(now);
    return id;
  }

  write(conn: number, data: Uint8Array, now: number): number {
    this.now = now;
    const c = this.conns.get(conn);
    if (!c) return 0;
    const n = c.write(data, now);
    this.after(c, now);
    this.flush(now);
    return n;
  }

  end(conn: number, now: number): void {
    this.now = now;
    const c = this.conns.get(conn);
    if (!c) return;
    c.end(now);
    this.after(c, now);
    this.flush(now);
  }

  abort(conn: number, now: number): void {
    this.now = now;
    const c = this.conns.get(conn);
    if (!c) return;
    c.abort(now);
    this.after(c, now);
    this.flush(now);
  }

  consumed(conn: number, bytes: number, now: number): void {
    const c = this.conns.get(conn);
    if (!c) return;
    c.consumed(bytes, now);
    this.flush(now);
  }

  info(conn: number): ConnInfo | undefined {
    const c = this.conns.get(conn);
    if (!c) return undefined;
    const m = c.master;
    return { local: { ...m.local }, remote: { ...m.remote }, mode: c.effectiveMode };
  }

  setAddresses(addresses: string[], now: number): void {
    this.now = now;
    this.addresses = [...addresses];
    this.pm.setLocalAddresses(addresses);
    for (const c of this.conns.values()) {
      if (c.inPm) c.processPm(now);
      else if (c.mode === 'tcp') continue;
      this.after(c, now);
    }
    this.flush(now);
  }

  /**
   * The network cannot route `src` -> `dst` (a failed send, an ICMP unreachable, the simulator's
   * refuse): subflows opening on that pair fail now (a master's connection with the error), and the
   * path manager does not try the pair again until the addresses or routes change.
   */
  unreachable(src: string, dst: string, code: UnreachableCode, now: number): void {
    this.now = now;
    this.pm.markUnreachable(src, dst);
    const hit: Subflow[] = [];
    for (const sf of this.byTuple.values()) {
      if (sf.active && !sf.tcb.synchronized && sf.local.address === src && sf.remote.address === dst)
        hit.push(sf);
    }
    const errno = code === 'ENETUNREACH' || code === 'icmp-net-unreachable' ? 'ENETUNREACH' : 'EHOSTUNREACH';
    for (const sf of hit) {
      this.mib.inc(sf.role === 'join' ? 'MPJoinUnreachable' : 'SubflowUnreachable');
      sf.closeReason = `unreachable: no route from ${src} to ${dst} (${code})`;
      sf.tcb.abort(now, undefined, { code: errno, message: `no route from ${src} to ${dst} (${code})` });
      this.dirty(sf);
      this.after(sf.conn, now);
    }
    this.flush(now);
  }

  /** The host's routes changed: pairs found unroutable may be tried again. */
  routesChanged(now: number): void {
    this.now = now;
    this.pm.routesChanged();
    for (const c of this.conns.values()) {
      if (!c.inPm) continue;
      c.processPm(now);
      this.after(c, now);
    }
    this.flush(now);
  }

  connStats(): ConnStats[] {
    const out: ConnStats[] = [];
    for (const c of this.conns.values()) {
      out.push({
        conn: c.id,
        mode: c.effectiveMode,
        state: c.state,
        bytesDelivered: c.bytesDelivered,
        bytesReceived: c.bytesReceived,
        oooBytes: c.rq.ofoBytesTotal,
        subflows: c.subflows.map((s) => {
          const r = s.report();
          return {
            pathIndex: r.pathIndex,
            local: r.local,
            remote: r.remote,
            state: r.state,
            mss: r.mss,
            cwnd: r.cwnd,
            ssthresh: r.ssthresh,
            srttMs: r.srttMs,
            rttvarMs: r.rttvarMs,
            bytesInFlight: r.bytesInFlight,
            bytesSent: r.bytesSent,
            bytesAcked: r.bytesAcked,
            bytesReceived: r.bytesReceived,
            retransmits: r.retransmits,
            reinjectedBytes: r.reinjectedBytes,
          };
        }),
      });
    }
    return out;
  }

  /** The state report (tokens, never keys). */
  report(): CoreReport {
    return {
      now: this.now,
      addresses: [...this.addresses],
      connections: [...this.conns.values()].map((c) => c.report()),
      mappingTable: this.pm.table().map((r) => ({
        token: hex32(r.token),
        pathIndex: r.pathIndex,
        endpoint: { ...r.endpoint },
        state: r.state,
        backup: r.backup,
      })),
      mib: { ...this.mib.snapshot(), TokenCollisions: this.tokens.collisions },
      sysctl: this.sysctl.snapshot(),
    };
  }

  reportText(): string {
    return formatCoreReport(this.report());
  }

  /** Connection object (tests and the report). */
  connection(id: number): MpConn | undefined {
    return this.conns.get(id);
  }

  /** Marks a local address as backup (subflows on it get the B flag; live ones MP_PRIO). */
  setBackup(address: string, backup: boolean, now: number): void {
    this.pm.setBackup(address, backup);
    for (const c of this.conns.values()) {
      c.processPm(now);
      this.after(c, now);
    }
    this.flush(now);
  }

  // ── ConnHost ───────────────────────────────────────────────────────────────────────────────
  dirty(sf: Subflow): void {
    this.dirtySet.add(sf);
  }

  openJoin(conn: MpConn, pathIndex: number, now: number): Subflow | undefined {
    const row = this.pm.row(conn.token, pathIndex);
    if (!row || !this.addresses.includes(row.endpoint.srcAddr)) return undefined;
    const ep = row.endpoint;
    const port = this.ephemeral(ep.srcAddr, ep.dstAddr, ep.dstPort);
    this.pm.built(conn.token, pathIndex, port);
    const sf = new Subflow(
      conn,
      'join',
      { address: ep.srcAddr, port },
      { address: ep.dstAddr, port: ep.dstPort },
      true,
    );
    sf.pathIndex = pathIndex;
    sf.localId = this.pm.localIdFor(conn.token, ep.srcAddr);
    sf.remoteId = row.remoteId;
    sf.backupLocal = row.backup;
    sf.localNonce = this.random() >>> 0;
    sf.cursor = conn.sb.una;
    this.attachTcb(sf, conn, now);
    conn.subflows.push(sf);
    conn.subflowsChanged();
    sf.tcb.connect(now);
    this.dirty(sf);
    return sf;
  }

  connDone(conn: MpConn): void {
    if (conn.local) this.tokens.release(conn.local.token);
  }

  // ── Internals ──────────────────────────────────────────────────────────────────────────────
  private newConn(id: number, role: 'client' | 'server', mptcp: boolean, now: number): MpConn {
    const s = this.sysctl;
    const wmem = s.getTriple('net.ipv4.tcp_wmem');
    const rmem = s.getTriple('net.ipv4.tcp_rmem');
    return new MpConn(this, {
      id,
      role,
      mptcp,
      checksumWanted: s.getInt('net.mptcp.mptcp_checksum') === 1,
      sndBuf: wmem[2],
      rcvBuf: rmem[2],
      scheduler: createScheduler(s.getString('net.mptcp.mptcp_scheduler')),
      cc: s.getString('net.mptcp.mptcp_cc'),
      now,
    });
  }

  private tcbConfigFor(c: MpConn, ccName?: string, localAddress?: string): Partial<TcbConfig> {
    const s = this.sysctl;
    const rmem = s.getTriple('net.ipv4.tcp_rmem');
    const mp = c.mode === 'mptcp';
    const cc = mp ? (ccName ?? c.ccName) : s.getString('net.ipv4.tcp_congestion_control');
    const shared = this.knobs.sharedMss;
    const pathMss = localAddress !== undefined ? this.mssByAddress[localAddress] : undefined;
    // A positive mptcp_mss forces one payload size on every subflow (the 2011 design); else each
    // subflow has its own (path-specific MSS).
    let mss = pathMss ?? this.tcbExtra.mss ?? 1460;
    if (shared > 0 && mp) mss = Math.min(mss, shared + DSS_RESERVE + 12);
    return {
      cc,
      rcvBuf: mp ? Math.min(rmem[2], 4 << 20) : Math.min(rmem[2], Math.max(rmem[1], 1 << 20)),
      sack: s.getInt('net.ipv4.tcp_sack') === 1,
      timestamps: s.getInt('net.ipv4.tcp_timestamps') === 1,
      windowScaling: s.getInt('net.ipv4.tcp_window_scaling') === 1,
      synRetries: s.getInt('net.ipv4.tcp_syn_retries'),
      rtoMin: s.getInt('net.ipv4.tcp_rto_min_ms'),
      timeWaitMs: s.getInt('net.ipv4.tcp_fin_timeout'),
      mssReserve: mp ? DSS_RESERVE : 0,
      ...this.tcbExtra,
      mss,
    };
  }

  private attachTcb(sf: Subflow, c: MpConn, now: number, iss?: number): void {
    const mp = c.mode === 'mptcp';
    const tcb = new Tcb({
      localPort: sf.local.port,
      remotePort: sf.remote.port,
      iss:
        iss ??
        isnFor(this.isnSecret, sf.local.address, sf.local.port, sf.remote.address, sf.remote.port, now),
      source: sf,
      sink: sf,
      hooks: sf,
      config: this.tcbConfigFor(c, undefined, sf.local.address),
      ...(mp ? { ccGroup: c.ccGroup } : {}),
    });
    tcb.owner = sf;
    sf.tcb = tcb;
    this.byTuple.set(tupleKey(sf.local.address, sf.local.port, sf.remote.address, sf.remote.port), sf);
  }

  private inputSyn(packet: Packet, seg: TcpSegment, now: number): void {
    const mps = mptcpOf(seg);
    const join = mps.find((m) => m.subtype === 'MP_JOIN');
    const enabled = this.sysctl.getInt('net.mptcp.mptcp_enabled') === 1;
    if (join && join.subtype === 'MP_JOIN' && join.form === 'syn' && enabled) {
      this.mib.inc('MPJoinSynRx');
      const conn = this.tokens.get(join.token);
      if (!conn?.multipath || conn.state === 'CLOSED' || !conn.local) {
        this.mib.inc(conn ? 'MPJoinRefused' : 'MPJoinNoTokenFound');
        if (conn === undefined) this.mib.inc('MPJoinRefused');
        this.sendRst(packet, seg, TCPRST_MPTCP_ERROR);
        return;
      }
      const m = conn.master;
      if (!this.knobs.allowJoinInitial && m.local.address === packet.dst && m.local.port === seg.dstPort) {
        // We set the C flag: no joins to the initial address and port.
        this.mib.inc('MPJoinRefused');
        this.sendRst(packet, seg, TCPRST_ADMIN_PROHIBITED);
        return;
      }
      const sf = new Subflow(
        conn,
        'join',
        { address: packet.dst, port: seg.dstPort },
        { address: packet.src, port: seg.srcPort },
        false,
      );
      sf.remoteId = join.addressId;
      sf.peerBackup = join.backup;
      sf.remoteNonce = join.nonce;
      sf.localNonce = this.random() >>> 0;
      sf.localId = this.pm.localIdFor(conn.token, packet.dst);
      sf.backupLocal = this.pm.isBackupAddress(packet.dst);
      sf.pathIndex = 0;
      sf.cursor = conn.sb.una;
      this.attachTcb(sf, conn, now);
      conn.subflows.push(sf);
      conn.subflowsChanged();
      if (!sf.tcb.acceptSyn(seg, now)) this.dropSubflow(sf);
      this.dirty(sf);
      return;
    }
    if (join && join.subtype === 'MP_JOIN' && join.form === 'syn') {
      // MPTCP is switched off here: a join is not a new connection, refuse it.
      this.mib.inc('MPJoinRefused');
      this.sendRst(packet, seg, TCPRST_ADMIN_PROHIBITED);
      return;
    }
    if (!this.listeners.has(seg.dstPort)) {
      this.stats.noListener++;
      this.sendRst(packet, seg);
      return;
    }
    if (this.halfOpen >= this.synBacklog) {
      // A SYN flood: the backlog of half-open connections is full (SYN/ACKs are retransmitted
      // for those in it; a real peer retries its SYN).
      this.recountHalfOpen();
      if (this.halfOpen >= this.synBacklog) {
        this.stats.synDropped++;
        return;
      }
    }
    const mpc = mps.find((m) => m.subtype === 'MP_CAPABLE');
    const mptcp = enabled && mpc !== undefined && mpc.subtype === 'MP_CAPABLE' && mpc.version === 1;
    if (mpc) this.mib.inc('MPCapableSYNRX');
    if (mpc && !enabled) this.mib.inc('MPCapableDisabled');
    const id = this.nextConn++;
    const conn = this.newConn(id, 'server', mptcp, now);
    if (mptcp && mpc && mpc.subtype === 'MP_CAPABLE') {
      conn.local = this.tokens.allocate(conn);
      conn.checksum = conn.checksumWanted || mpc.a;
    }
    const sf = new Subflow(
      conn,
      'master',
      { address: packet.dst, port: seg.dstPort },
      { address: packet.src, port: seg.srcPort },
      false,
    );
    sf.rx.checksums = conn.checksum;
    sf.backupLocal = this.pm.isBackupAddress(packet.dst);
    this.attachTcb(sf, conn, now);
    conn.master = sf;
    conn.subflows.push(sf);
    conn.subflowsChanged();
    this.conns.set(id, conn);
    if (!sf.tcb.acceptSyn(seg, now)) {
      this.dropSubflow(sf);
      this.conns.delete(id);
      if (conn.local) this.tokens.release(conn.local.token);
      this.dirty(sf);
      return;
    }
    // 'accepted' is announced when the handshake completes (MpConn.becomeEstablished).
    conn.listenPort = seg.dstPort;
    this.halfOpen++;
    this.dirty(sf);
  }

  /** Half-open passive connections (server side, handshake not complete). */
  private recountHalfOpen(): void {
    let n = 0;
    for (const c of this.conns.values()) if (c.role === 'server' && c.state === 'SYN_RECEIVED') n++;
    this.halfOpen = n;
  }

  private dropSubflow(sf: Subflow): void {
    this.byTuple.delete(tupleKey(sf.local.address, sf.local.port, sf.remote.address, sf.remote.port));
  }

  /** RST for a segment no subflow owns (RFC 9293 §3.10.7.1), optionally with MP_TCPRST. */
  private sendRst(packet: Packet, seg: TcpSegment, reason?: number): void {
    const options: TcpOption[] = [];
    if (reason !== undefined) {
      options.push({
        kind: 'mptcp',
        mp: { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: false, reason },
      });
      this.mib.inc('MPRstTx');
    }
    const payloadLen = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & 1 ? 1 : 0);
    const rst: TcpSegment =
      seg.flags & ACK
        ? {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: seg.ack,
            ack: 0,
            flags: RST,
            window: 0,
            checksum: 0,
            urgent: 0,
            options,
            payload: new Uint8Array(0),
          }
        : {
            srcPort: seg.dstPort,
            dstPort: seg.srcPort,
            seq: 0,
            ack: (seg.seq + payloadLen) >>> 0,
            flags: RST | ACK,
            window: 0,
            checksum: 0,
            urgent: 0,
            options,
            payload: new Uint8Array(0),
          };
    this.stats.rstSent++;
    this.output.push({ src: packet.dst, dst: packet.src, data: this.encode(rst, packet.dst, packet.src) });
  }

  private encode(seg: TcpSegment, src: string, dst: string): Uint8Array {
    return this.checksums ? encodeSegment(seg, src, dst) : encodeSegment(seg);
  }

  /** Runs what a connection deferred (aborts) and lets it send. */
  private after(c: MpConn, now: number): void {
    c.checkHoles(now);
    for (let i = 0; i < 4 && (c.pendingAborts.length > 0 || c.pendingCloses.length > 0 || c.wantPump); i++) {
      for (const sf of c.pendingCloses.splice(0)) {
        if (sf.closed) continue;
        sf.tcb.close(now);
        this.dirty(sf);
      }
      const aborts = c.pendingAborts.splice(0);
      for (const sf of aborts) {
        if (sf.closed) continue;
        sf.tcb.abort(now, undefined, { code: 'ECONNRESET', message: sf.closeReason ?? 'reset' });
        this.dirty(sf);
      }
      if (c.wantPump) c.pump(now);
    }
  }

  private flush(now: number): void {
    if (this.dirtySet.size === 0) return;
    for (const sf of this.dirtySet) {
      // A signal (ADD_ADDR or its echo, REMOVE_ADDR, MP_PRIO, MP_FAIL) still waiting: data segments
      // have no room for it (timestamps + DSS), so a bare ACK carries it now, as Linux does.
      if (sf.pending.length > 0 && sf.established) sf.tcb.sendAck(now);
      const segs = sf.tcb.takeOutput();
      for (const seg of segs) {
        this.output.push({
          src: sf.local.address,
          dst: sf.remote.address,
          data: this.encode(seg, sf.local.address, sf.remote.address),
        });
      }
      if (sf.tcb.state === TcpState.CLOSED) {
        const key = tupleKey(sf.local.address, sf.local.port, sf.remote.address, sf.remote.port);
        if (this.byTuple.get(key) === sf) this.byTuple.delete(key);
        const c = sf.conn;
        if (c.state === 'CLOSED' && c.subflows.every((s) => s.tcb.state === TcpState.CLOSED || s.closed)) {
          if (c.subflows.every((s) => s.tcb.state === TcpState.CLOSED)) this.conns.delete(c.id);
        }
      }
    }
    this.dirtySet.clear();
    void now;
  }

  private sourceFor(dst: string): string | undefined {
    const v6 = dst.includes(':');
    return this.addresses.find((a) => a.includes(':') === v6);
  }

  private ephemeral(local: string, remote: string, remotePort: number): number {
    for (let i = 0; i < 28232; i++) {
      const p = this.nextPort;
      this.nextPort = p >= 60999 ? 32768 : p + 1;
      if (!this.byTuple.has(tupleKey(local, p, remote, remotePort))) return p;
    }
    throw new Error('no ephemeral port left');
  }
}

import { getCcFactory } from '../cc/index';

function createCcFor(name: string, tcb: Tcb, c: MpConn) {
  return getCcFactory(name)({ mss: tcb.mss, self: tcb, group: c.ccGroup });
}
