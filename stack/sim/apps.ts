/**
 * Application drivers over the NetCore API for simulator tests: a bulk sender and a sink. The
 * sender writes `bytes` of seeded pseudo-random data (connect, write until the buffer pushes back,
 * write again on 'writable', end); the sink drains 'data' events, reports them consumed, and
 * closes its side on 'end'. Both hash what they see (SHA-256), and the sink bins goodput in time.
 */
import { createHash, type Hash } from 'node:crypto';
import type { CoreEvent } from '../core/contract';
import type { Host, Simulator } from './sim';

export interface BulkOptions {
  client: Host;
  server: Host;
  /** Address to connect to (default: the server's first address). */
  host?: string;
  /** Server port (default 5001). Use distinct ports for concurrent transfers to one server. */
  port?: number;
  localAddress?: string;
  bytes: number;
  /** Size of each write (default 64 KiB). */
  chunkBytes?: number;
  /** Virtual time of the connect (default now). */
  at?: number;
  /** Goodput bin width, ms (default 100). */
  binMs?: number;
  /** The sink closes its side once the sender's end arrives (default true). */
  serverEnds?: boolean;
  /** Call server.listen(port) now (default true). */
  listen?: boolean;
  /** Seed label of the payload (default: derived from the sim seed and port). */
  dataSeed?: string;
  /** Hash both ends with SHA-256 (default true). Off only for benchmarks: `ok` then checks counts. */
  verify?: boolean;
  /**
   * Reuse one payload buffer for every write (default false). Only for cores whose write() copies
   * what it accepts (TcpHost, MptcpHost do; WindowCore keeps references and must not be used so).
   */
  reuseBuffer?: boolean;
}

export class BulkTransfer {
  readonly sim: Simulator;
  readonly bytes: number;
  readonly port: number;
  readonly binMs: number;
  clientConn = -1;
  serverConn = -1;
  /** Bytes the sender's core accepted. */
  bytesWritten = 0;
  bytesReceived = 0;
  readonly startAt: number;
  connectedAt = Number.NaN;
  /** When the sink saw 'end' (the whole stream). */
  finishedAt = Number.NaN;
  clientClosedAt = Number.NaN;
  serverClosedAt = Number.NaN;
  sentSha = '';
  receivedSha = '';
  error: { side: 'client' | 'server'; code: string; message: string } | undefined;
  /** Bytes received per bin of `binMs`, bin 0 starting at `startAt`. */
  readonly bins: number[] = [];

  private readonly opts: BulkOptions;
  private readonly sendHash: Hash = createHash('sha256');
  private readonly recvHash: Hash = createHash('sha256');
  private generated = 0;
  private pending: Uint8Array | null = null;
  private ended = false;
  private readonly rng;
  private readonly chunk: number;
  private readonly verify: boolean;
  private readonly reuse: boolean;
  private scratch: Uint8Array | null = null;

  constructor(sim: Simulator, opts: BulkOptions) {
    this.sim = sim;
    this.opts = opts;
    this.bytes = opts.bytes;
    this.port = opts.port ?? 5001;
    this.binMs = opts.binMs ?? 100;
    this.chunk = opts.chunkBytes ?? 65536;
    this.verify = opts.verify ?? true;
    this.reuse = opts.reuseBuffer ?? false;
    this.startAt = opts.at ?? sim.now;
    this.rng = sim.rng.fork(opts.dataSeed ?? `bulk/${this.port}`);
    opts.server.on((e) => this.onServer(e));
    opts.client.on((e) => this.onClient(e));
    if (opts.listen ?? true) opts.server.listen(this.port);
    sim.at(this.startAt, () => {
      const host = opts.host ?? opts.server.addresses()[0];
      if (host === undefined) throw new Error('bulk: server has no address');
      const c = opts.client;
      this.clientConn = c.core.connect({ host, port: this.port, localAddress: opts.localAddress }, sim.now);
      c.pump();
    });
  }

  /** The sink has the whole stream, or something failed. */
  get done(): boolean {
    return !Number.isNaN(this.finishedAt) || this.error !== undefined;
  }

  /** Done, no error, every byte arrived and (when verifying) the SHA-256 hashes match. */
  get ok(): boolean {
    return (
      this.error === undefined &&
      !Number.isNaN(this.finishedAt) &&
      this.bytesReceived === this.bytes &&
      (!this.verify || (this.sentSha !== '' && this.sentSha === this.receivedSha))
    );
  }

  /** From connect to the last byte at the sink, ms. */
  get durationMs(): number {
    return this.finishedAt - this.startAt;
  }

  /** Average goodput from connect to the last byte, Mbit/s. */
  get goodputMbps(): number {
    return (this.bytesReceived * 8) / (this.durationMs * 1000);
  }

  /**
   * Goodput over [from, to) in virtual ms, Mbit/s, from the bins (so bin-aligned: the bins that
   * start inside the window count whole).
   */
  goodputBetween(from: number, to: number): number {
    let bytes = 0;
    for (let i = 0; i < this.bins.length; i++) {
      const t = this.startAt + i * this.binMs;
      if (t >= from && t < to) bytes += this.bins[i] ?? 0;
    }
    const first = Math.ceil((from - this.startAt) / this.binMs);
    const last = Math.ceil((to - this.startAt) / this.binMs);
    const ms = Math.max(0, last - Math.max(first, 0)) * this.binMs;
    return ms > 0 ? (bytes * 8) / (ms * 1000) : 0;
  }

  /** Goodput per bin, Mbit/s, with each bin's start time. */
  goodputSeries(): { t: number[]; mbps: number[] } {
    const t: number[] = [];
    const mbps: number[] = [];
    for (let i = 0; i < this.bins.length; i++) {
      t.push(this.startAt + i * this.binMs);
      mbps.push(((this.bins[i] ?? 0) * 8) / (this.binMs * 1000));
    }
    return { t, mbps };
  }

  private onClient(e: CoreEvent): void {
    if (e.conn !== this.clientConn) return;
    const c = this.opts.client;
    switch (e.type) {
      case 'connected':
        this.connectedAt = this.sim.now;
        this.pushMore();
        break;
      case 'writable':
        this.pushMore();
        break;
      case 'data':
        c.consumed(e.conn, e.data.length);
        break;
      case 'closed':
        this.clientClosedAt = this.sim.now;
        if (e.error && !this.error) this.error = { side: 'client', ...e.error };
        break;
      default:
        break;
    }
  }

  private pushMore(): void {
    const c = this.opts.client;
    for (;;) {
      if (this.pending === null) {
        if (this.generated >= this.bytes) break;
        const n = Math.min(this.chunk, this.bytes - this.generated);
        let buf: Uint8Array;
        if (this.reuse) {
          // the core copies what it accepts: one buffer serves every chunk
          if (this.scratch === null || this.scratch.length < n) this.scratch = new Uint8Array(this.chunk);
          buf = this.rng.fill(this.scratch.subarray(0, n));
        } else buf = this.rng.bytes(n);
        if (this.verify) this.sendHash.update(buf);
        this.generated += n;
        if (this.generated >= this.bytes && this.verify) this.sentSha = this.sendHash.digest('hex');
        this.pending = buf;
      }
      const w = c.core.write(this.clientConn, this.pending, this.sim.now);
      this.bytesWritten += w;
      if (w >= this.pending.length) this.pending = null;
      else {
        this.pending = this.pending.subarray(w);
        break;
      }
    }
    if (this.pending === null && this.generated >= this.bytes && !this.ended) {
      this.ended = true;
      c.core.end(this.clientConn, this.sim.now);
    }
    c.pump();
  }

  private onServer(e: CoreEvent): void {
    const s = this.opts.server;
    if (e.type === 'accepted') {
      if (this.serverConn === -1 && e.port === this.port) this.serverConn = e.conn;
      return;
    }
    if (e.conn !== this.serverConn) return;
    switch (e.type) {
      case 'data': {
        const n = e.data.length;
        if (this.verify) this.recvHash.update(e.data);
        this.bytesReceived += n;
        const bin = Math.floor((this.sim.now - this.startAt) / this.binMs);
        while (this.bins.length <= bin) this.bins.push(0);
        this.bins[bin]! += n;
        s.consumed(e.conn, n);
        break;
      }
      case 'end':
        if (Number.isNaN(this.finishedAt)) {
          this.finishedAt = this.sim.now;
          if (this.verify) this.receivedSha = this.recvHash.digest('hex');
          if (this.opts.serverEnds ?? true) s.end(e.conn);
        }
        break;
      case 'closed':
        this.serverClosedAt = this.sim.now;
        if (e.error && !this.error) this.error = { side: 'server', ...e.error };
        break;
      default:
        break;
    }
  }
}

/** Starts a bulk transfer (see BulkOptions); run the simulator until `transfer.done`. */
export function startBulk(sim: Simulator, opts: BulkOptions): BulkTransfer {
  return new BulkTransfer(sim, opts);
}

/** Jain's fairness index of a set of throughputs (1 = perfectly fair). */
export function jainIndex(xs: number[]): number {
  let s = 0;
  let s2 = 0;
  for (const x of xs) {
    s += x;
    s2 += x * x;
  }
  return s2 === 0 ? 1 : (s * s) / (xs.length * s2);
}
