/**
 * node:net-style sockets over our stack.
 *
 *   const stack = await createStack({ addresses: ['10.0.0.1', '10.0.1.1'] });
 *   stack.createServer((sock) => sock.pipe(sock)).listen(5000);
 *   const sock = stack.connect({ host: '10.0.0.2', port: 5000 });
 *   sock.on('connect', () => sock.end('hello'));
 *   await stack.close();
 *
 * Sockets are Duplex streams with backpressure both ways: write() returns false once the core's
 * send buffer accepted less than asked (the remainder waits for the core's 'writable'); data is
 * pushed as it arrives and `core.consumed` is told as the application reads it, so the receive
 * window follows the application.
 */
import { lookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Duplex } from 'node:stream';
import type { ConnectOptions, ConnInfo, ConnStats, CoreEvent, NetCore } from './core/contract';
import type { CoreReport } from './report';
import { type BuiltCore, type CoreKind, createCore } from './runtime/core-factory';
import { Driver } from './runtime/driver';
import { SynGuard, type SynGuardOptions, tupleKey } from './runtime/syn-guard';
import { TunPhy, tunMaxSegmentFor } from './runtime/tun-phy';
import { DEFAULT_UDP_PORT, maxSegmentFor, UdpPhy, type UdpPhyCounters } from './runtime/udp-phy';
import { type KnobValue, Sysctl } from './sysctl';
import type { TcbConfig } from './tcp/tcb';

export interface StackOptions {
  /** Local addresses to use (each while present). Default: every non-loopback address of the host. */
  addresses?: string[];
  /** Use loopback addresses too when learning from the host. */
  includeLoopback?: boolean;
  /**
   * 'udp' (default): segments in UDP datagrams. 'tun': whole IP packets through a TUN device, the
   * stack's TCP steered to it by policy routing (root; see stack/runtime/tun-phy.ts, docs/phy.md).
   */
  phy?: 'udp' | 'tun';
  /** TUN device name with phy 'tun' (default mptun0). */
  tunName?: string;
  /** UDP port of the phy (bound on each address, and the peers' port). Default 8684. */
  udpPort?: number;
  /** Interface poll period (ms) for following addresses; 0 disables. Default 200. */
  pollMs?: number;
  /** Initial knob values. */
  sysctl?: Record<string, KnobValue>;
  /** Inject a core (tests, experiments). Default: the factory's MPTCP host. */
  core?: NetCore;
  /** Which core the factory builds: 'mptcp' (default) or plain 'tcp'. */
  coreKind?: CoreKind;
  /** Abort a connection whose data stays unacknowledged this long (ms); 0 = off (RFC 5482). */
  userTimeoutMs?: number;
  /** Extra subflow settings for the factory's core. */
  tcb?: Partial<TcbConfig>;
  /** TCP checksums in the core (default true). */
  checksums?: boolean;
  /**
   * The MSS the core announces per local address (TCP options + payload per segment). Default: the
   * address's interface MTU minus IP, UDP and TCP headers (1452 on a 1500-byte MTU), capped at
   * `maxMss`, so a segment fits one unfragmented datagram. Setting it forces one value on every
   * address (larger than the MTU allows, segments ride IP-fragmented datagrams). The knob
   * net.mptcp.mptcp_mss, when set, forces its payload size on every MPTCP subflow, above the path
   * MSS too (fragmented datagrams) or below it.
   */
  mss?: number;
  /** SYN backlog enforced in front of the core; false disables. Default: on, SynGuard's defaults. */
  synGuard?: SynGuardOptions | false;
  /** Cap of the derived MSS (loopback's 64 KiB MTU would allow ~65 KB). Default 16384. */
  maxMss?: number;
  /** Log sink for the phy and driver (bind failures, core exceptions). */
  log?: (msg: string) => void;
}

export interface StackReport {
  core: CoreKind | 'custom';
  addresses: string[];
  udpPort: number;
  phy: UdpPhyCounters;
  driver: Driver['counters'];
  /** SYNs dropped by the runtime's backlog, and handshakes currently half-open in it. */
  syn: { dropped: number; halfOpen: number };
  connections: ConnStats[];
  /** The core's state report (stack/report.ts): connections, subflows, mapping table, MIB, knobs. */
  stack?: CoreReport;
  /** Segments that passed the phy's cheap check but the core dropped (undecodable, bad checksum). */
  coreDropped: number;
}

export class StackError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'StackError';
  }
}

function makeError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** A connection over the stack, as a Duplex stream. */
export class StackSocket extends Duplex {
  /** Core connection id; -1 until assigned. */
  conn = -1;
  connecting: boolean;
  private pendingChunk: Uint8Array | undefined;
  private pendingCb: ((err?: Error | null) => void) | undefined;
  private pushedTotal = 0;
  private reportedConsumed = 0;
  private coreClosed = false;
  private cachedInfo: ConnInfo | undefined;
  bytesWritten = 0;
  bytesRead = 0;

  constructor(
    private readonly stack: Stack,
    connecting: boolean,
  ) {
    // autoDestroy off: the socket's lifetime follows the core connection ('closed'), not the stream
    // states: 'finish' only means the core took the data, which it may still have to deliver.
    super({ allowHalfOpen: true, autoDestroy: false, highWaterMark: 256 * 1024 });
    this.connecting = connecting;
  }

  get remoteAddress(): string | undefined {
    return this.info()?.remote.address;
  }
  get remotePort(): number | undefined {
    return this.info()?.remote.port;
  }
  get localAddress(): string | undefined {
    return this.info()?.local.address;
  }
  get localPort(): number | undefined {
    return this.info()?.local.port;
  }
  /** 'mptcp' while multipath, 'tcp' for plain TCP or after fallback. */
  get mode(): 'mptcp' | 'tcp' | undefined {
    return this.info()?.mode;
  }

  info(): ConnInfo | undefined {
    if (this.conn >= 0 && !this.coreClosed)
      this.cachedInfo = this.stack.core.info(this.conn) ?? this.cachedInfo;
    return this.cachedInfo;
  }

  /** This connection's figures from the core (undefined once closed). */
  stats(): ConnStats | undefined {
    return this.stack.core.connStats().find((s) => s.conn === this.conn);
  }

  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }

  /** @internal */
  _coreEvent(e: CoreEvent): void {
    switch (e.type) {
      case 'connected':
        this.connecting = false;
        this.info();
        this.emit('connect');
        this.emit('ready');
        this.retryPending();
        break;
      case 'data':
        this.pushedTotal += e.data.length;
        this.bytesRead += e.data.length;
        this.push(e.data);
        this.reportConsumed();
        break;
      case 'writable':
        this.retryPending();
        break;
      case 'end':
        this.push(null);
        break;
      case 'closed':
        this.coreClosed = true;
        this.stack._forget(this.conn);
        if (this.pendingCb) {
          const cb = this.pendingCb;
          this.pendingCb = undefined;
          this.pendingChunk = undefined;
          cb(e.error ? makeError(e.error.code, e.error.message) : makeError('EPIPE', 'connection closed'));
        }
        if (e.error) {
          this.destroy(makeError(e.error.code, e.error.message));
          break;
        }
        // A clean close: the socket lives until the application has read everything ('end'),
        // so pipes see 'end' and nothing buffered is thrown away.
        if (!this.readableEnded) this.push(null);
        if (this.readableEnded) this.destroy();
        else if (
          this.readableLength === 0 &&
          this.readableFlowing !== true &&
          this.listenerCount('data') === 0
        )
          this.destroy();
        else this.once('end', () => this.destroy());
        break;
      case 'accepted':
        break;
    }
  }

  /** Tells the core how much the application has taken out of the readable buffer. */
  private reportConsumed(): void {
    if (this.coreClosed || this.conn < 0) return;
    const consumed = this.pushedTotal - this.readableLength;
    const delta = consumed - this.reportedConsumed;
    if (delta > 0) {
      this.reportedConsumed = consumed;
      this.stack.core.consumed(this.conn, delta, this.stack.driver.now());
      this.stack.driver.kick();
    }
  }

  override _read(): void {
    this.reportConsumed();
  }

  // Readable calls _read only once per push, so consumption is tracked where the application
  // actually takes data out: read() (which flowing mode and pipe() use too).
  // biome-ignore lint/suspicious/noExplicitAny: Readable.read's own signature
  override read(size?: number): any {
    const chunk = super.read(size);
    if (chunk !== null) this.reportConsumed();
    return chunk;
  }

  override _write(chunk: Uint8Array, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.coreClosed) {
      cb(makeError('EPIPE', 'connection closed'));
      return;
    }
    this.pendingChunk = chunk;
    this.pendingCb = cb;
    if (!this.connecting) this.retryPending();
  }

  override _writev(chunks: Array<{ chunk: Uint8Array }>, cb: (err?: Error | null) => void): void {
    if (chunks.length === 1) {
      this._write(chunks[0]!.chunk, 'binary', cb);
      return;
    }
    let total = 0;
    for (const c of chunks) total += c.chunk.length;
    const all = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      all.set(c.chunk, o);
      o += c.chunk.length;
    }
    this._write(all, 'binary', cb);
  }

  private retryPending(): void {
    const chunk = this.pendingChunk;
    if (!chunk || this.coreClosed || this.conn < 0) return;
    const n = this.stack.core.write(this.conn, chunk, this.stack.driver.now());
    this.stack.driver.kick();
    this.bytesWritten += n;
    if (n >= chunk.length) {
      const cb = this.pendingCb!;
      this.pendingChunk = undefined;
      this.pendingCb = undefined;
      cb();
    } else if (n > 0) {
      this.pendingChunk = chunk.subarray(n);
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.conn < 0 && !this.coreClosed && !this.destroyed) {
      // Still resolving the host name: end once the connection exists.
      this.once('connect', () => this._final(cb));
      return;
    }
    if (!this.coreClosed && this.conn >= 0) {
      this.stack.core.end(this.conn, this.stack.driver.now());
      this.stack.driver.kick();
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.coreClosed && this.conn >= 0) {
      this.coreClosed = true;
      this.stack.core.abort(this.conn, this.stack.driver.now());
      this.stack._forget(this.conn);
      this.stack.driver.kick();
    }
    cb(err);
  }
}

export class StackServer extends EventEmitter {
  port: number | undefined;
  constructor(private readonly stack: Stack) {
    super();
  }

  listen(port: number, cb?: () => void): this {
    this.stack._listen(port, this);
    this.port = port;
    if (cb) queueMicrotask(cb);
    queueMicrotask(() => this.emit('listening'));
    return this;
  }

  address(): { port: number } | null {
    return this.port === undefined ? null : { port: this.port };
  }

  /** Stops accepting; existing connections live on. */
  close(cb?: () => void): this {
    if (this.port !== undefined) this.stack._unlisten(this.port, this);
    this.port = undefined;
    queueMicrotask(() => {
      this.emit('close');
      cb?.();
    });
    return this;
  }
}

export class Stack {
  readonly sysctl: Sysctl;
  readonly driver: Driver;
  private readonly sockets = new Map<number, StackSocket>();
  private readonly servers = new Map<number, StackServer>();
  private closed = false;
  /** @internal runs before the core hears of a new address set (path MSS of new addresses). */
  beforeAddresses: ((addresses: string[]) => void) | undefined;

  /** @internal use createStack */
  constructor(
    readonly core: NetCore,
    readonly coreKind: CoreKind | 'custom',
    readonly phy: UdpPhy | TunPhy,
    sysctl: Sysctl,
    private readonly coreReport?: () => CoreReport,
    private readonly coreDropped?: () => number,
  ) {
    this.sysctl = sysctl;
    this.driver = new Driver(core, phy);
    this.driver.onEvents = (events) => this.dispatch(events);
    phy.onPacket = (p) => this.driver.receive(p);
    phy.onUnreachable = (src, dst, code) => this.driver.unreachable(src, dst, code);
    phy.onRoutes = () => this.driver.routesChanged();
    phy.onAddresses = (addrs) => {
      this.beforeAddresses?.(addrs);
      core.setAddresses(addrs, this.driver.now());
      this.driver.kick();
    };
  }

  get addresses(): string[] {
    return this.phy.addresses();
  }

  createServer(handler?: (socket: StackSocket) => void): StackServer {
    const s = new StackServer(this);
    if (handler) s.on('connection', handler);
    return s;
  }

  connect(options: { host: string; port: number; localAddress?: string; localPort?: number }): StackSocket {
    const sock = new StackSocket(this, true);
    if (this.closed) {
      queueMicrotask(() => sock.destroy(makeError('ENOTCONN', 'stack closed')));
      return sock;
    }
    if (isIP(options.host) === 0) {
      // A name: resolve it first (the family of our first address), then open.
      const family = this.addresses.some((a) => isIP(a) === 4) ? 4 : 6;
      lookup(options.host, { family }, (err, address) => {
        if (sock.destroyed) return;
        if (err) sock.destroy(makeError(err.code ?? 'ENOTFOUND', `${options.host}: ${err.message}`));
        else this.open(sock, { ...options, host: address });
      });
      return sock;
    }
    this.open(sock, options);
    return sock;
  }

  private open(sock: StackSocket, options: ConnectOptions): void {
    if (this.closed) {
      sock.destroy(makeError('ENOTCONN', 'stack closed'));
      return;
    }
    const conn = this.core.connect(options, this.driver.now());
    sock.conn = conn;
    this.sockets.set(conn, sock);
    this.driver.kick();
  }

  report(): StackReport {
    return {
      core: this.coreKind,
      addresses: this.phy.addresses(),
      udpPort: this.phy.port,
      phy: { ...this.phy.counters },
      driver: { ...this.driver.counters },
      syn: { dropped: this.driver.guard?.dropped ?? 0, halfOpen: this.driver.guard?.halfOpen ?? 0 },
      connections: this.core.connStats(),
      stack: this.coreReport?.(),
      coreDropped: this.coreDropped?.() ?? 0,
    };
  }

  /** Open sockets (for leak checks). */
  get socketCount(): number {
    return this.sockets.size;
  }

  /** Aborts every connection, stops listening, closes the phy. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.sockets.values()]) s.destroy();
    for (const port of [...this.servers.keys()]) this.core.unlisten(port);
    this.servers.clear();
    this.driver.flushNow();
    this.driver.stop();
    await this.phy.close();
  }

  /** @internal */
  _listen(port: number, server: StackServer): void {
    if (this.servers.has(port)) throw new StackError('EADDRINUSE', `port ${port} already listening`);
    this.servers.set(port, server);
    this.core.listen(port);
  }
  /** @internal */
  _unlisten(port: number, server: StackServer): void {
    if (this.servers.get(port) !== server) return;
    this.servers.delete(port);
    this.core.unlisten(port);
  }
  /** @internal */
  _forget(conn: number): void {
    this.sockets.delete(conn);
  }

  private dispatch(events: CoreEvent[]): void {
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === 'accepted') {
        const server = this.servers.get(e.port);
        if (!server) {
          this.core.abort(e.conn, this.driver.now());
          continue;
        }
        const sock = new StackSocket(this, false);
        sock.conn = e.conn;
        this.sockets.set(e.conn, sock);
        server.emit('connection', sock);
        continue;
      }
      if (e.type === 'data') {
        // Consecutive data of one connection in a turn goes up as one chunk: one push, one
        // 'data' event, one hash update in the application instead of one per segment.
        let j = i + 1;
        let total = e.data.length;
        for (; j < events.length; j++) {
          const n = events[j]!;
          if (n.type !== 'data' || n.conn !== e.conn) break;
          total += n.data.length;
        }
        if (j > i + 1) {
          const merged = Buffer.allocUnsafe(total);
          let off = 0;
          for (let k = i; k < j; k++) {
            const d = (events[k] as { data: Uint8Array }).data;
            merged.set(d, off);
            off += d.length;
          }
          this.sockets.get(e.conn)?._coreEvent({ type: 'data', conn: e.conn, data: merged });
          i = j - 1;
          continue;
        }
      }
      this.sockets.get(e.conn)?._coreEvent(e);
    }
  }
}

const HALF_OPEN = /^SYN.?R/i;

/** Subflows still in SYN-RECEIVED, as SynGuard keys. */
function halfOpenKeys(core: NetCore): Set<string> {
  const out = new Set<string>();
  for (const c of core.connStats()) {
    for (const s of c.subflows) {
      if (HALF_OPEN.test(s.state))
        out.add(tupleKey(s.local.address, s.local.port, s.remote.address, s.remote.port));
    }
  }
  return out;
}

/** Builds a stack: core, driver and UDP phy bound on the local addresses. */
export async function createStack(options: StackOptions = {}): Promise<Stack> {
  const sysctl = new Sysctl(options.sysctl);
  const tun = options.phy === 'tun';
  const phy = tun
    ? new TunPhy({ name: options.tunName, addresses: options.addresses, pollMs: options.pollMs })
    : new UdpPhy({
        port: options.udpPort ?? DEFAULT_UDP_PORT,
        addresses: options.addresses,
        includeLoopback: options.includeLoopback,
        pollMs: options.pollMs,
      });
  if (options.log) phy.onLog = options.log;
  let addresses = await phy.start();
  const following = (options.pollMs ?? 200) > 0;
  // A freshly configured interface is listed once it is running (a veth: once both ends are up):
  // give it a moment; while following, a stack may also start without any and pick them up later.
  for (let i = 0; addresses.length === 0 && following && i < 15; i++) {
    await new Promise((r) => setTimeout(r, 200));
    await phy.poll();
    addresses = phy.addresses();
  }
  if (addresses.length === 0 && !following) {
    await phy.close();
    throw new StackError('EADDRNOTAVAIL', 'no local address could be bound');
  }
  if (addresses.length === 0) options.log?.('no local address yet; waiting for one to appear');
  const tcb: Partial<TcbConfig> = { ...options.tcb };
  if (options.userTimeoutMs !== undefined) tcb.userTimeoutMs = options.userTimeoutMs;
  // Path-specific MSS: per local address, its interface MTU minus IP, UDP and TCP headers (so a
  // segment fits one unfragmented datagram), capped at maxMss; `mss` forces one value everywhere.
  // The MPTCP host keeps this record by reference: addresses that appear later are added to it.
  //
  // net.mptcp.mptcp_mss forces one payload size on every subflow. The MPTCP host applies it as a
  // ceiling on the path MSS; over the UDP phy a segment may exceed the MTU (its datagram is
  // IP-fragmented), so a knob above the path MSS raises the path MSS to match: the knob is the
  // lever for large segments (fewer datagrams, fewer system calls per byte).
  const mssByAddress: Record<string, number> = {};
  const pathMssFor = (a: string) =>
    options.mss ??
    Math.max(536, Math.min(options.maxMss ?? 16384, (tun ? tunMaxSegmentFor(a) : maxSegmentFor(a)) - 20));
  const mssFor = (a: string) => {
    const shared = sysctl.getInt('net.mptcp.mptcp_mss');
    // TCP timestamps (12) and the DSS reserve (28) come out of the MSS before the payload.
    return Math.max(pathMssFor(a), shared > 0 ? Math.min(65487, shared + 40) : 0);
  };
  for (const a of addresses) mssByAddress[a] = mssFor(a);
  sysctl.onChange((name) => {
    if (name !== 'net.mptcp.mptcp_mss') return;
    for (const a of Object.keys(mssByAddress)) mssByAddress[a] = mssFor(a);
  });
  if (tcb.mss === undefined && addresses.length > 0)
    tcb.mss = Math.min(...addresses.map((a) => mssByAddress[a]!)); // the plain-TCP host's one MSS
  const built: Omit<BuiltCore, 'kind'> & { kind: CoreKind | 'custom' } = options.core
    ? { core: options.core, kind: 'custom' }
    : createCore({ sysctl, kind: options.coreKind, tcb, checksums: options.checksums, mssByAddress });
  const stack = new Stack(built.core, built.kind, phy, sysctl, built.report, built.dropped);
  stack.beforeAddresses = (addrs) => {
    for (const a of addrs) mssByAddress[a] ??= mssFor(a);
  };
  built.core.setAddresses(addresses, stack.driver.now());
  if (options.synGuard !== false) {
    const core = built.core;
    stack.driver.guard = new SynGuard(options.synGuard ?? {}, () => halfOpenKeys(core));
  }
  if (options.log) {
    const log = options.log;
    stack.driver.onCoreError = (e) =>
      log(`core error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return stack;
}
