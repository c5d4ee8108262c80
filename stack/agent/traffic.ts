/**
 * Traffic generators of the agent: a bulk sender and a sink, both hashing what they move with
 * SHA-256 and reporting per-interval, per-subflow figures. Who sends and who opens the connection
 * are independent: a sender normally connects and a sink listens, but a sender can listen (accept
 * one connection and send to it) and a sink can connect (and receive), as `iperf3 -R` does.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import type { Stack, StackServer, StackSocket } from '../api';
import type { ConnStats } from '../core/contract';
import {
  DEFAULT_PROGRESS_INTERVAL_MS,
  type TrafficDone,
  type TrafficProgress,
  type TrafficResult,
  type TrafficRole,
  type TrafficStatus,
  type TrafficSubflowFigures,
} from './protocol';

export interface TrafficEvents {
  progress(p: TrafficProgress): void;
  done(d: TrafficDone): void;
}

/** One 1 MiB block of random bytes, sent over and over (each write is hashed). */
let block: Buffer | undefined;
function sendBlock(): Buffer {
  block ??= randomBytes(1 << 20);
  return block;
}

/** Per-subflow figures of a connection as one end sees it: bytes sent by a sender, received by a sink. */
export function subflowFigures(stats: ConnStats | undefined, role: TrafficRole): TrafficSubflowFigures[] {
  if (!stats) return [];
  return stats.subflows.map((s) => ({
    pathIndex: s.pathIndex,
    local: `${s.local.address}:${s.local.port}`,
    remote: `${s.remote.address}:${s.remote.port}`,
    bytes: role === 'send' ? s.bytesSent : s.bytesReceived,
    cwnd: s.cwnd,
    srttMs: s.srttMs,
    retransmits: s.retransmits,
    ...(s.reinjectedBytes !== undefined ? { reinjectedBytes: s.reinjectedBytes } : {}),
  }));
}

abstract class Job {
  state: TrafficStatus['state'];
  bytes = 0;
  startedAt = -1;
  endedAt = -1;
  result: TrafficResult | undefined;
  protected timer: NodeJS.Timeout | undefined;
  private lastBytes = 0;
  private lastT = 0;
  /** Last known per-subflow figures (kept after the connection closed). */
  protected lastFigures: TrafficSubflowFigures[] = [];
  protected lastOoo: number | undefined;

  constructor(
    readonly id: string,
    readonly role: TrafficRole,
    readonly port: number,
    protected readonly events: TrafficEvents,
    protected readonly intervalMs: number,
    initial: TrafficStatus['state'],
    readonly host?: string,
  ) {
    this.state = initial;
  }

  /** Ends the job; `abort` resets its connection instead of a graceful end. */
  abstract stop(abort?: boolean): void;
  protected abstract currentStats(): ConnStats | undefined;
  /** True while the job holds its stack port open for connections. */
  abstract get listens(): boolean;
  connections = 0;

  seconds(): number {
    if (this.startedAt < 0) return 0;
    const end = this.endedAt >= 0 ? this.endedAt : performance.now();
    return (end - this.startedAt) / 1000;
  }

  status(): TrafficStatus {
    const s: TrafficStatus = {
      id: this.id,
      role: this.role,
      port: this.port,
      state: this.state,
      bytes: this.bytes,
      seconds: this.seconds(),
      connections: this.connections,
    };
    if (this.host) s.host = this.host;
    if (this.result) s.result = this.result;
    return s;
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed' || this.state === 'stopped';
  }

  protected startTicking(): void {
    if (this.timer || this.intervalMs <= 0) return;
    this.lastT = performance.now();
    this.lastBytes = this.bytes;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  protected stopTicking(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  protected tick(): void {
    const now = performance.now();
    const st = this.currentStats();
    if (st) {
      this.lastFigures = subflowFigures(st, this.role);
      if (st.oooBytes !== undefined) this.lastOoo = st.oooBytes;
    }
    const p: TrafficProgress = {
      id: this.id,
      role: this.role,
      t: this.seconds(),
      bytes: this.bytes,
      intervalBytes: this.bytes - this.lastBytes,
      intervalSeconds: (now - this.lastT) / 1000,
      subflows: this.lastFigures,
    };
    if (this.role === 'sink' && this.lastOoo !== undefined) p.oooBytes = this.lastOoo;
    this.events.progress(p);
    this.lastT = now;
    this.lastBytes = this.bytes;
  }

  protected finish(result: TrafficResult, state: TrafficStatus['state'], notify = true): void {
    if (this.finished) return;
    // A last progress notification with the final per-subflow figures, so even a transfer shorter
    // than one interval reports them.
    if (this.intervalMs > 0 && this.startedAt >= 0) this.tick();
    this.stopTicking();
    if (this.endedAt < 0) this.endedAt = performance.now();
    this.result = result;
    this.state = state;
    if (notify) this.events.done({ id: this.id, role: this.role, result });
  }
}

export class SendJob extends Job {
  private sock: StackSocket | undefined;
  /** A listening sender's server, until its connection arrives. */
  private server: StackServer | undefined;
  private readonly hash: Hash = createHash('sha256');
  private stopRequested = false;
  private deadline = Number.POSITIVE_INFINITY;
  /** When the application wrote its last byte (performance.now()), -1 while writing. */
  private lastWriteAt = -1;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    id: string,
    private readonly stack: Stack,
    private readonly p: {
      /** Connect to host:port; without host, listen on port and send to the first connection. */
      host?: string;
      port: number;
      bytes?: number;
      durationMs?: number;
      localAddress?: string;
    },
    events: TrafficEvents,
    intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
  ) {
    super(id, 'send', p.port, events, intervalMs, p.host === undefined ? 'listening' : 'connecting', p.host);
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  start(): void {
    if (this.p.host === undefined) {
      // listening sender: the first connection gets the data, later ones are refused
      const server = this.stack.createServer((sock) => {
        if (this.sock || this.finished) {
          sock.destroy();
          return;
        }
        this.server?.close();
        this.server = undefined;
        this.attach(sock);
        this.running();
      });
      this.server = server;
      server.listen(this.p.port);
      return;
    }
    const opts: { host: string; port: number; localAddress?: string } = {
      host: this.p.host,
      port: this.p.port,
    };
    if (this.p.localAddress) opts.localAddress = this.p.localAddress;
    const sock = this.stack.connect(opts);
    this.attach(sock);
    sock.on('connect', () => this.running());
  }

  get listens(): boolean {
    return this.server !== undefined;
  }

  /** The connection is up: start the clock and write. */
  private running(): void {
    this.state = 'running';
    this.startedAt = performance.now();
    if (this.p.durationMs !== undefined) this.deadline = this.startedAt + this.p.durationMs;
    this.startTicking();
    void this.pump();
  }

  private attach(sock: StackSocket): void {
    this.sock = sock;
    this.connections = 1;
    // The sender ignores what the peer might send back, but must read it for the window to move.
    sock.on('data', () => {});
    // The peer's end of stream comes before the connection is gone: keep its final figures.
    sock.on('end', () => {
      const st = sock.stats();
      if (st) this.lastFigures = subflowFigures(st, 'send');
    });
    sock.on('error', (e: Error & { code?: string }) => {
      this.fail(e.code ?? 'EIO', e.message);
    });
    sock.on('close', () => {
      if (this.finished) return;
      if (this.state === 'running' && sock.writableFinished) {
        this.finish(
          {
            bytes: this.bytes,
            seconds: this.seconds(),
            sha256: this.hash.digest('hex'),
            ...this.sendWindow(),
          },
          'done',
        );
      } else if (this.stopRequested) {
        this.finish(this.partial('ESTOPPED', 'stopped'), 'stopped');
      } else {
        this.fail('ECONNRESET', 'connection closed before the transfer completed');
      }
      this.resolveDone();
    });
  }

  private partial(code: string, message: string): TrafficResult {
    return {
      bytes: this.bytes,
      seconds: this.seconds(),
      sha256: this.hash.digest('hex'),
      ...this.sendWindow(),
      error: { code, message },
    };
  }

  /** The sending window: connect to the last write (absent when writing never ended). */
  private sendWindow(): { sendSeconds?: number } {
    if (this.startedAt < 0 || this.lastWriteAt < 0) return {};
    return { sendSeconds: (this.lastWriteAt - this.startedAt) / 1000 };
  }

  private fail(code: string, message: string): void {
    if (this.finished) return;
    this.finish(this.partial(code, message), this.stopRequested ? 'stopped' : 'failed');
    this.resolveDone();
  }

  private async pump(): Promise<void> {
    const sock = this.sock!;
    const blk = sendBlock();
    const limit = this.p.bytes ?? Number.POSITIVE_INFINITY;
    while (!this.stopRequested && !sock.destroyed) {
      if (this.bytes >= limit || performance.now() >= this.deadline) break;
      const n = Math.min(blk.length, limit - this.bytes);
      const chunk = n === blk.length ? blk : blk.subarray(0, n);
      this.hash.update(chunk);
      this.bytes += n;
      if (!sock.write(chunk)) {
        // Wait for room, but not past the deadline: a timed run's window ends on time, and what
        // is still buffered then drains afterwards (reported apart as the drain).
        await new Promise<void>((r) => {
          let timer: NodeJS.Timeout | undefined;
          const done = () => {
            sock.off('drain', done);
            sock.off('close', done);
            if (timer) clearTimeout(timer);
            r();
          };
          sock.on('drain', done);
          sock.on('close', done);
          if (Number.isFinite(this.deadline))
            timer = setTimeout(done, Math.max(0, this.deadline - performance.now()));
        });
      }
    }
    this.lastWriteAt = performance.now();
    if (!sock.destroyed) sock.end();
  }

  protected currentStats(): ConnStats | undefined {
    return this.sock?.stats();
  }

  stop(abort = false): void {
    if (this.finished) return;
    this.stopRequested = true;
    if (abort && this.sock && !this.sock.destroyed) this.sock.destroy();
    if (this.server) {
      // a listening sender nobody connected to: nothing was sent
      this.server.close();
      this.server = undefined;
      if (!this.sock) {
        this.finish(this.partial('ESTOPPED', 'stopped before a connection arrived'), 'stopped');
        this.resolveDone();
        return;
      }
    }
    // A graceful end: what was written is still delivered.
    if (this.sock && !this.sock.destroyed && this.state === 'connecting') this.sock.destroy();
  }
}

export class SinkJob extends Job {
  private server: StackServer | undefined;
  private readonly live = new Set<{ sock: StackSocket; hash: Hash; bytes: number }>();
  private lastResult: TrafficResult | undefined;

  constructor(
    id: string,
    private readonly stack: Stack,
    port: number,
    events: TrafficEvents,
    intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
    private readonly once = false,
    /** Connect to this host:port and receive, instead of listening (`iperf3 -R`'s client). */
    private readonly connectTo?: { host: string; localAddress?: string },
  ) {
    super(id, 'sink', port, events, intervalMs, connectTo ? 'connecting' : 'listening', connectTo?.host);
  }

  get listens(): boolean {
    return this.server !== undefined;
  }

  start(): void {
    if (this.connectTo) {
      const opts: { host: string; port: number; localAddress?: string } = {
        host: this.connectTo.host,
        port: this.port,
      };
      if (this.connectTo.localAddress) opts.localAddress = this.connectTo.localAddress;
      const sock = this.stack.connect(opts);
      // one connection, so the job ends with it; the clock starts once it is up
      this.accept(sock, true);
      return;
    }
    this.server = this.stack.createServer((sock) => this.accept(sock));
    this.server.listen(this.port);
  }

  private accept(sock: StackSocket, connecting = false): void {
    this.connections++;
    if (this.once && this.connections > 1) {
      sock.destroy();
      return;
    }
    const once = this.once || connecting;
    const c = { sock, hash: createHash('sha256'), bytes: 0 };
    this.live.add(c);
    let started = performance.now();
    let first = -1;
    const up = () => {
      started = performance.now();
      if (this.startedAt < 0) this.startedAt = started;
      this.state = 'running';
      this.startTicking();
    };
    if (connecting) sock.on('connect', up);
    else up();
    sock.on('data', (d: Buffer) => {
      if (first < 0) first = performance.now();
      c.bytes += d.length;
      this.bytes += d.length;
      c.hash.update(d);
    });
    const end = (error?: { code: string; message: string }) => {
      if (!this.live.has(c)) return;
      const st = sock.stats();
      if (st) this.lastFigures = subflowFigures(st, 'sink');
      this.live.delete(c);
      const t1 = performance.now();
      const result: TrafficResult = {
        bytes: c.bytes,
        seconds: (t1 - (first >= 0 ? first : started)) / 1000,
        sha256: c.hash.digest('hex'),
      };
      if (error) result.error = error;
      this.lastResult = result;
      this.events.done({ id: this.id, role: 'sink', result });
      if (once) {
        this.endedAt = t1;
        this.closeServer();
        this.finish(result, error ? 'failed' : 'done', false);
      } else if (this.live.size === 0) {
        this.stopTicking();
      }
    };
    sock.on('end', () => {
      end();
      sock.end();
    });
    sock.on('error', (e: Error & { code?: string }) => end({ code: e.code ?? 'EIO', message: e.message }));
    sock.on('close', () => end({ code: 'ECONNRESET', message: 'closed before end of stream' }));
  }

  protected currentStats(): ConnStats | undefined {
    for (const c of this.live) return c.sock.stats();
    return undefined;
  }

  override status(): TrafficStatus {
    const s = super.status();
    if (!s.result && this.lastResult) s.result = this.lastResult;
    return s;
  }

  private closeServer(): void {
    this.server?.close();
    this.server = undefined;
  }

  // a sink's stop always resets its connections: nothing more is to be read
  stop(_abort = false): void {
    if (this.finished) return;
    this.closeServer();
    for (const c of [...this.live]) c.sock.destroy();
    this.live.clear();
    const r = this.lastResult ?? {
      bytes: this.bytes,
      seconds: this.seconds(),
      sha256: createHash('sha256').digest('hex'),
    };
    this.finish(r, 'stopped', false);
  }
}
