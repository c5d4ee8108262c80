/**
 * The path manager: a separate entity (one per host) that decides which subflows each MPTCP
 * connection should have, following the IETF 80 Linux design. It holds the mapping table
 *
 *   token | path index | endpoint id <src addr, dst addr, src port, dst port>
 *
 * where path index 1 is the master subflow and a source port of 0 means "chosen when the subflow
 * is built". The connection asks for paths to build (`nextToBuild`), reports the port it bound
 * (`built`) and how the subflow ended (`pathDown`). Address ids are stable per host: an address
 * keeps its id for the life of the host, even if it goes away and comes back.
 *
 * Strategies: fullmesh (every local x remote address pair of the same family), ndiffports
 * (N subflows over the master's address pair, distinct source ports), default (open nothing,
 * accept joins). Only the side that opened the connection builds subflows; both sides announce
 * their other addresses with ADD_ADDR and withdraw them with REMOVE_ADDR.
 *
 * Unroutable pairs: when the host learns that a local address cannot reach a remote one (the
 * phy's send found no route, an ICMP unreachable came back: `markUnreachable`), every row on that
 * pair becomes 'unreachable' and is not built again, on any connection, until the host's
 * addresses or routes change (`setLocalAddresses` with a different set, `routesChanged`), or the
 * peer announces the remote address again (ADD_ADDR): no SYN
 * is retransmitted towards a destination the network has said it cannot reach.
 *
 * Sans-I/O: no timers; the connection polls with `now`.
 */

export type PmStrategy = 'default' | 'fullmesh' | 'ndiffports';

export interface EndpointId {
  srcAddr: string;
  dstAddr: string;
  /** 0 = chosen when the subflow is built. */
  srcPort: number;
  dstPort: number;
}

export type PathState =
  /** Wanted, not built yet (srcPort 0). */
  | 'pending'
  /** SYN with MP_JOIN sent. */
  | 'connecting'
  | 'established'
  /** Ended; may be retried after `retryAt`. */
  | 'failed'
  /** An address of the row went away; rebuilt if it comes back. */
  | 'removed'
  /** No route between its addresses; rebuilt only after the addresses or routes change. */
  | 'unreachable';

export interface PathRow {
  token: number;
  pathIndex: number;
  endpoint: EndpointId;
  state: PathState;
  /** Address ids (per RFC 8684: the local one as we announce it, the remote one as the peer does). */
  localId: number;
  remoteId: number;
  backup: boolean;
  /** Times this row was (re)built. */
  attempts: number;
  /** When a failed row may be rebuilt (ms); Infinity = never. */
  retryAt: number;
}

export interface RemoteAddress {
  id: number;
  address: string;
  port?: number;
}

/** What the path manager asks a connection to do. Drained with `takeActions(token)`. */
export type PmAction =
  | { type: 'announce'; id: number; address: string }
  | { type: 'withdraw'; id: number }
  | { type: 'close'; pathIndex: number; reason: 'address-removed' | 'remote-removed' }
  | { type: 'prio'; pathIndex: number; backup: boolean };

export interface PmOptions {
  strategy: PmStrategy;
  /** Subflows ndiffports wants in total (master included). */
  ndiffports: number;
  /** First retry delay of a failed path (ms), doubling up to `retryMaxMs`. */
  retryMs?: number;
  retryMaxMs?: number;
  /** Most rebuilds of one path index before giving up on it. */
  maxAttempts?: number;
}

interface ConnPm {
  token: number;
  initiator: boolean;
  strategy: PmStrategy;
  ndiffports: number;
  master: EndpointId;
  /** Local address of the master subflow: it has address id 0 on this connection. */
  rows: PathRow[];
  remotes: Map<number, RemoteAddress>;
  /** Local ids already announced to the peer. */
  announced: Set<number>;
  actions: PmAction[];
  /** False until the multipath trigger has fired: no new paths before. */
  open: boolean;
  /** The peer set the C flag (RFC 8684 3.1): no new subflows to its initial address. */
  noJoinToInitial: boolean;
  /**
   * The master's local address went away (its id 0 withdrawn). If it comes back it is an ordinary
   * address again: announced under its own non-zero id, so the peer can join it (WiFi lost and back).
   */
  masterAddrGone: boolean;
}

function pairKey(src: string, dst: string): string {
  return `${src}|${dst}`;
}

export function familyOf(addr: string): 4 | 6 {
  return addr.includes(':') ? 6 : 4;
}

export class PathManager {
  private readonly conns = new Map<number, ConnPm>();
  /** Host-level stable address ids (1..255); id 0 means "the master's address" per connection. */
  private readonly ids = new Map<string, number>();
  private nextId = 1;
  private locals: string[] = [];
  private readonly backupAddrs = new Set<string>();
  /** Local|remote address pairs the network said it cannot route. */
  private readonly noRoute = new Set<string>();
  options: Required<PmOptions>;

  constructor(options: PmOptions, localAddresses: string[] = []) {
    this.options = { retryMs: 1000, retryMaxMs: 30_000, maxAttempts: 8, ...options };
    this.setLocalAddresses(localAddresses);
  }

  /** The stable host-level id of a local address (allocated on first sight). */
  addressId(address: string): number {
    let id = this.ids.get(address);
    if (id === undefined) {
      id = this.nextId;
      this.nextId = this.nextId >= 255 ? 1 : this.nextId + 1;
      this.ids.set(address, id);
    }
    return id;
  }

  localAddresses(): readonly string[] {
    return this.locals;
  }

  /** The address id this connection uses for a local address (0 for the master's). */
  localIdFor(token: number, address: string): number {
    const c = this.conns.get(token);
    if (c && c.master.srcAddr === address && !c.masterAddrGone) return 0;
    return this.addressId(address);
  }

  /** Local address behind a per-connection local id. */
  localAddressOf(token: number, id: number): string | undefined {
    const c = this.conns.get(token);
    if (!c) return undefined;
    if (id === 0) return c.master.srcAddr;
    for (const [a, i] of this.ids) if (i === id && this.locals.includes(a)) return a;
    return undefined;
  }

  /**
   * A connection became MPTCP-capable: row 1 is its master subflow. `initiator` is true on the
   * side that opened it (that side builds the extra subflows). `open` = false holds new paths
   * back until `trigger(token)` (the multipath trigger).
   */
  addConnection(
    token: number,
    master: EndpointId,
    initiator: boolean,
    opts: {
      open?: boolean;
      strategy?: PmStrategy;
      ndiffports?: number;
      backup?: boolean;
      noJoinToInitial?: boolean;
    } = {},
  ): void {
    const c: ConnPm = {
      token,
      initiator,
      strategy: opts.strategy ?? this.options.strategy,
      ndiffports: opts.ndiffports ?? this.options.ndiffports,
      master: { ...master },
      rows: [],
      remotes: new Map([[0, { id: 0, address: master.dstAddr, port: master.dstPort }]]),
      announced: new Set(),
      actions: [],
      open: opts.open ?? true,
      noJoinToInitial: opts.noJoinToInitial ?? false,
      masterAddrGone: false,
    };
    this.conns.set(token, c);
    c.rows.push({
      token,
      pathIndex: 1,
      endpoint: { ...master },
      state: 'established',
      localId: 0,
      remoteId: 0,
      backup: opts.backup ?? false,
      attempts: 1,
      retryAt: Number.POSITIVE_INFINITY,
    });
    this.announceAll(c);
    this.plan(c);
  }

  removeConnection(token: number): void {
    this.conns.delete(token);
  }

  hasConnection(token: number): boolean {
    return this.conns.has(token);
  }

  /** The multipath trigger fired: new paths may now be built. */
  trigger(token: number): void {
    const c = this.conns.get(token);
    if (!c || c.open) return;
    c.open = true;
    this.plan(c);
  }

  isOpen(token: number): boolean {
    return this.conns.get(token)?.open ?? false;
  }

  /** The peer announced an address (ADD_ADDR with a valid HMAC). */
  addRemoteAddress(token: number, remote: RemoteAddress): void {
    const c = this.conns.get(token);
    if (!c) return;
    const prev = c.remotes.get(remote.id);
    c.remotes.set(remote.id, { ...remote });
    if (prev && prev.address !== remote.address) {
      // Same id, new address: the old one is gone.
      this.dropRows(
        c,
        (r) => r.remoteId === remote.id && r.endpoint.dstAddr === prev.address,
        'remote-removed',
      );
    }
    // The peer (re)announcing an address is news about it: pairs towards it found unroutable
    // (say, while it was gone) are tried again.
    if (this.noRoute.size > 0) {
      for (const k of [...this.noRoute]) if (k.endsWith(`|${remote.address}`)) this.noRoute.delete(k);
      for (const x of this.conns.values())
        for (const r of x.rows)
          if (
            r.state === 'unreachable' &&
            r.endpoint.dstAddr === remote.address &&
            this.locals.includes(r.endpoint.srcAddr)
          )
            this.reset(r);
    }
    // Rows removed earlier towards this address come back, under the id it is announced with now
    // (an initial address withdrawn as id 0 returns under an id of its own).
    for (const r of c.rows) {
      if (
        r.state === 'removed' &&
        r.endpoint.dstAddr === remote.address &&
        this.locals.includes(r.endpoint.srcAddr)
      ) {
        r.remoteId = remote.id;
        if (remote.port !== undefined) r.endpoint.dstPort = remote.port;
        this.reset(r);
      }
    }
    this.plan(c);
  }

  /** The peer withdrew an address (REMOVE_ADDR): its rows are closed. */
  removeRemoteAddress(token: number, id: number): void {
    const c = this.conns.get(token);
    if (!c) return;
    const prev = c.remotes.get(id);
    if (!prev) return;
    c.remotes.delete(id);
    this.dropRows(c, (r) => r.remoteId === id, 'remote-removed');
  }

  remoteAddresses(token: number): RemoteAddress[] {
    const c = this.conns.get(token);
    return c ? [...c.remotes.values()] : [];
  }

  /**
   * The host's addresses changed. New ones are announced on every connection and used (fullmesh);
   * rows on vanished ones are closed and the address withdrawn; a returning address revives its rows.
   */
  setLocalAddresses(addresses: readonly string[]): void {
    const before = new Set(this.locals);
    this.locals = [...new Set(addresses)];
    if (this.locals.length !== before.size || this.locals.some((a) => !before.has(a)))
      this.forgetUnreachable();
    for (const a of this.locals) this.addressId(a);
    const gone = [...before].filter((a) => !this.locals.includes(a));
    for (const c of this.conns.values()) {
      for (const a of gone) {
        const id = this.localIdFor(c.token, a);
        this.dropRows(c, (r) => r.endpoint.srcAddr === a, 'address-removed');
        if (c.announced.delete(id) || id === 0) c.actions.push({ type: 'withdraw', id });
        if (a === c.master.srcAddr) c.masterAddrGone = true;
      }
      for (const r of c.rows) {
        if (r.state === 'removed' && this.locals.includes(r.endpoint.srcAddr)) {
          const remote = c.remotes.get(r.remoteId);
          if (remote && remote.address === r.endpoint.dstAddr) this.reset(r);
        }
      }
      this.announceAll(c);
      this.plan(c);
    }
  }

  /** The network cannot route `src` -> `dst`: rows on that pair stop (see the header). */
  markUnreachable(src: string, dst: string): void {
    this.noRoute.add(pairKey(src, dst));
    for (const c of this.conns.values()) {
      for (const r of c.rows) {
        if (r.endpoint.srcAddr !== src || r.endpoint.dstAddr !== dst) continue;
        if (r.state === 'pending' || r.state === 'failed') {
          r.state = 'unreachable';
          r.retryAt = Number.POSITIVE_INFINITY;
        }
      }
    }
  }

  isUnreachable(src: string, dst: string): boolean {
    return this.noRoute.size > 0 && this.noRoute.has(pairKey(src, dst));
  }

  /** Routes changed (the host's routing table): unreachable pairs may be tried again. */
  routesChanged(): void {
    this.forgetUnreachable();
  }

  private forgetUnreachable(): void {
    if (this.noRoute.size === 0) return;
    this.noRoute.clear();
    for (const c of this.conns.values()) {
      for (const r of c.rows)
        if (r.state === 'unreachable' && this.locals.includes(r.endpoint.srcAddr)) this.reset(r);
    }
  }

  /** Marks a local address as backup: subflows on it carry the backup flag (MP_PRIO if live). */
  setBackup(address: string, backup: boolean): void {
    if (backup) this.backupAddrs.add(address);
    else this.backupAddrs.delete(address);
    for (const c of this.conns.values()) {
      for (const r of c.rows) {
        if (r.endpoint.srcAddr !== address || r.backup === backup) continue;
        r.backup = backup;
        if (r.state === 'established') c.actions.push({ type: 'prio', pathIndex: r.pathIndex, backup });
      }
    }
  }

  isBackupAddress(address: string): boolean {
    return this.backupAddrs.has(address);
  }

  /**
   * Rows ready to be built now (pending, or failed with their retry time passed), in path-index
   * order. Empty on the passive side, before the trigger, and for the default strategy.
   */
  nextToBuild(token: number, now: number): PathRow[] {
    const c = this.conns.get(token);
    if (!c?.initiator || !c.open) return [];
    const out: PathRow[] = [];
    for (const r of c.rows) {
      if (r.state === 'pending' || (r.state === 'failed' && r.retryAt <= now)) out.push(r);
    }
    return out;
  }

  /** Earliest retry time of a failed row (Infinity if none). */
  nextRetry(token: number): number {
    const c = this.conns.get(token);
    let t = Number.POSITIVE_INFINITY;
    if (!c?.initiator || !c.open) return t;
    for (const r of c.rows) if (r.state === 'failed' && r.retryAt < t) t = r.retryAt;
    return t;
  }

  /** The connection is building this row: the source port is now chosen. */
  built(token: number, pathIndex: number, srcPort: number): PathRow | undefined {
    const r = this.row(token, pathIndex);
    if (!r) return undefined;
    r.endpoint.srcPort = srcPort;
    r.state = 'connecting';
    r.attempts++;
    return r;
  }

  established(token: number, pathIndex: number): void {
    const r = this.row(token, pathIndex);
    if (r && r.state !== 'removed') r.state = 'established';
  }

  /**
   * A subflow ended. `retry` false = do not rebuild (e.g. the peer refused it). The master keeps
   * its row as failed and is never rebuilt (the connection goes on over the others).
   */
  pathDown(token: number, pathIndex: number, now: number, retry = true): void {
    const r = this.row(token, pathIndex);
    if (!r || r.state === 'removed' || r.state === 'unreachable') return;
    if (this.isUnreachable(r.endpoint.srcAddr, r.endpoint.dstAddr)) {
      r.state = 'unreachable';
      r.retryAt = Number.POSITIVE_INFINITY;
      return;
    }
    r.state = 'failed';
    if (!retry || pathIndex === 1 || r.attempts >= this.options.maxAttempts) {
      r.retryAt = Number.POSITIVE_INFINITY;
    } else {
      const backoff = Math.min(
        this.options.retryMaxMs,
        this.options.retryMs * 2 ** Math.max(0, r.attempts - 1),
      );
      r.retryAt = now + backoff;
    }
  }

  /**
   * The passive side accepted a join (or the active side built a subflow the PM did not plan):
   * records its row and returns its path index.
   */
  joined(token: number, endpoint: EndpointId, localId: number, remoteId: number, backup: boolean): number {
    const c = this.conns.get(token);
    if (!c) return 0;
    const existing = c.rows.find(
      (r) =>
        r.endpoint.srcAddr === endpoint.srcAddr &&
        r.endpoint.dstAddr === endpoint.dstAddr &&
        r.endpoint.srcPort === endpoint.srcPort &&
        r.endpoint.dstPort === endpoint.dstPort,
    );
    if (existing) {
      existing.state = 'established';
      return existing.pathIndex;
    }
    const pathIndex = this.nextIndex(c);
    c.rows.push({
      token,
      pathIndex,
      endpoint: { ...endpoint },
      state: 'established',
      localId,
      remoteId,
      backup,
      attempts: 1,
      retryAt: Number.POSITIVE_INFINITY,
    });
    return pathIndex;
  }

  row(token: number, pathIndex: number): PathRow | undefined {
    return this.conns.get(token)?.rows.find((r) => r.pathIndex === pathIndex);
  }

  rows(token: number): readonly PathRow[] {
    return this.conns.get(token)?.rows ?? [];
  }

  /** The whole mapping table, every connection, ordered by token then path index. */
  table(): PathRow[] {
    const out: PathRow[] = [];
    for (const c of this.conns.values()) out.push(...c.rows);
    return out.sort((a, b) => a.token - b.token || a.pathIndex - b.pathIndex);
  }

  takeActions(token: number): PmAction[] {
    const c = this.conns.get(token);
    if (!c || c.actions.length === 0) return [];
    const a = c.actions;
    c.actions = [];
    return a;
  }

  /** Changes the strategy of new connections (the knob). */
  configure(options: Partial<PmOptions>): void {
    this.options = { ...this.options, ...options };
  }

  // -------------------------------------------------------------------------------------------

  private reset(r: PathRow): void {
    r.state = 'pending';
    r.endpoint.srcPort = 0;
    r.attempts = 0;
    r.retryAt = Number.POSITIVE_INFINITY;
  }

  private nextIndex(c: ConnPm): number {
    let m = 0;
    for (const r of c.rows) if (r.pathIndex > m) m = r.pathIndex;
    return m + 1;
  }

  private dropRows(
    c: ConnPm,
    pred: (r: PathRow) => boolean,
    reason: 'address-removed' | 'remote-removed',
  ): void {
    for (const r of c.rows) {
      if (r.state === 'removed' || !pred(r)) continue;
      const live = r.state === 'established' || r.state === 'connecting';
      r.state = 'removed';
      r.retryAt = Number.POSITIVE_INFINITY;
      if (live) c.actions.push({ type: 'close', pathIndex: r.pathIndex, reason });
    }
  }

  private announceAll(c: ConnPm): void {
    if (c.strategy === 'ndiffports') return;
    for (const a of this.locals) {
      if (a === c.master.srcAddr && !c.masterAddrGone) continue;
      const id = this.addressId(a);
      if (c.announced.has(id)) continue;
      c.announced.add(id);
      c.actions.push({ type: 'announce', id, address: a });
    }
  }

  /** Adds the rows the strategy wants and the table lacks. */
  private plan(c: ConnPm): void {
    if (!c.initiator || !c.open) return;
    if (c.strategy === 'ndiffports') {
      if (c.noJoinToInitial) return;
      const m = c.master;
      const have = c.rows.filter((r) => r.endpoint.srcAddr === m.srcAddr && r.endpoint.dstAddr === m.dstAddr);
      for (let i = have.length; i < c.ndiffports; i++) {
        this.addRow(c, { srcAddr: m.srcAddr, dstAddr: m.dstAddr, srcPort: 0, dstPort: m.dstPort }, 0, 0);
      }
      return;
    }
    if (c.strategy !== 'fullmesh') return;
    const m = c.master;
    const candidates: { ep: EndpointId; localId: number; remoteId: number; score: number; order: number }[] =
      [];
    let order = 0;
    for (const remote of c.remotes.values()) {
      if (remote.id === 0 && c.noJoinToInitial) continue;
      for (const local of this.locals) {
        order++;
        if (familyOf(local) !== familyOf(remote.address)) continue;
        if (c.rows.some((r) => r.endpoint.srcAddr === local && r.endpoint.dstAddr === remote.address))
          continue;
        // The same address announced under two ids: one row.
        if (candidates.some((x) => x.ep.srcAddr === local && x.ep.dstAddr === remote.address)) continue;
        // Most diverse paths first: those sharing no address with the master, then those that
        // change the remote address, then those that change only the local one.
        const sameLocal = local === m.srcAddr;
        const sameRemote = remote.address === m.dstAddr;
        const score = (sameLocal ? 1 : 0) + (sameRemote ? 2 : 0);
        candidates.push({
          ep: { srcAddr: local, dstAddr: remote.address, srcPort: 0, dstPort: remote.port ?? m.dstPort },
          localId: this.localIdFor(c.token, local),
          remoteId: remote.id,
          score,
          order,
        });
      }
    }
    candidates.sort((a, b) => a.score - b.score || a.order - b.order);
    for (const cand of candidates) this.addRow(c, cand.ep, cand.localId, cand.remoteId);
  }

  private addRow(c: ConnPm, ep: EndpointId, localId: number, remoteId: number): void {
    c.rows.push({
      token: c.token,
      pathIndex: this.nextIndex(c),
      endpoint: ep,
      state: this.isUnreachable(ep.srcAddr, ep.dstAddr) ? 'unreachable' : 'pending',
      localId,
      remoteId,
      backup: this.backupAddrs.has(ep.srcAddr),
      attempts: 0,
      retryAt: Number.POSITIVE_INFINITY,
    });
  }
}

/** Formats an endpoint id the way the design shows it: <A1, B1, pA1, pB1>. */
export function formatEndpoint(ep: EndpointId): string {
  return `<${ep.srcAddr}, ${ep.dstAddr}, ${ep.srcPort}, ${ep.dstPort}>`;
}
