/**
 * Traffic generators of the agent: a bulk sender and a sink, both hashing what they move with
 * SHA-256 and reporting per-interval, per-subflow figures.
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

  abstract stop(): void;
  protected abstract currentStats(): ConnStats | undefined;
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
    if (st) this.lastFigures = subflowFigures(st, this.role);
    this.events.progress({
      id: this.id,
      role: this.role,
      t: this.seconds(),
      bytes: this.bytes,
      intervalBytes: this.bytes - this.lastBytes,
      intervalSeconds: (now - this.lastT) / 1000,
      subflows: this.lastFigures,
    });
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
  private readonly hash: Hash = createHash('sha256');
  private stopRequested = false;
  private deadline = Number.POSITIVE_INFINITY;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    id: string,
    private readonly stack: Stack,
    private readonly p: {
      host: string;
      port: number;
      bytes?: number;
      durationMs?: number;
      localAddress?: string;
    },
    events: TrafficEvents,
    intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
  ) {
    super(id, 'send', p.port, events, intervalMs, 'connecting', p.host);
    this.done = new Promise((r) => {
      this.resolveDone = r;
    });
  }

  start(): void {
    const opts: { host: string; port: number; localAddress?: string } = {
      host: this.p.host,
      port: this.p.port,
    };
    if (this.p.localAddress) opts.localAddress = this.p.localAddress;
    const sock = this.stack.connect(opts);
    this.sock = sock;
    this.connections = 1;
    sock.on('connect', () => {
      this.state = 'running';
      this.startedAt = performance.now();
      if (this.p.durationMs !== undefined) this.deadline = this.startedAt + this.p.durationMs;
      this.startTicking();
      void this.pump();
    });
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
        this.finish({ bytes: this.bytes, seconds: this.seconds(), sha256: this.hash.digest('hex') }, 'done');
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
      error: { code, message },
    };
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
        await new Promise<void>((r) => {
          const done = () => {
            sock.off('drain', done);
            sock.off('close', done);
            r();
          };
          sock.on('drain', done);
          sock.on('close', done);
        });
      }
    }
    if (!sock.destroyed) sock.end();
  }

  protected currentStats(): ConnStats | undefined {
    return this.sock?.stats();
  }

  stop(): void {
    if (this.finished) return;
    this.stopRequested = true;
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
  ) {
    super(id, 'sink', port, events, intervalMs, 'listening');
  }

  start(): void {
    this.server = this.stack.createServer((sock) => this.accept(sock));
    this.server.listen(this.port);
  }

  private accept(sock: StackSocket): void {
    this.connections++;
    if (this.once && this.connections > 1) {
      sock.destroy();
      return;
    }
    const c = { sock, hash: createHash('sha256'), bytes: 0 };
    this.live.add(c);
    const started = performance.now();
    let first = -1;
    if (this.startedAt < 0) this.startedAt = started;
    this.state = 'running';
    this.startTicking();
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
      if (this.once) {
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

  stop(): void {
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
