/**
 * The TCP proxy: unmodified applications ride the stack.
 *
 *   app ──kernel TCP──▶ [agent A: proxy.start listenPort] ══our MPTCP══▶ [agent B: proxy port]
 *        ──kernel TCP──▶ target
 *
 * A's side sends one header line (JSON ProxyHeader + '\n') first, then raw bytes both ways.
 * pipe() carries backpressure both ways and half-closes (allowHalfOpen everywhere).
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import type { Stack, StackServer, StackSocket } from '../api';
import type { ProxyHeader } from './protocol';

const MAX_HEADER = 1024;

type Log = (msg: string) => void;

/** Joins two duplex streams both ways; an error on one side destroys the other. */
function join(a: Socket | StackSocket, b: Socket | StackSocket, onDone: () => void): void {
  a.pipe(b);
  b.pipe(a);
  let closed = 0;
  const close = () => {
    if (++closed === 2) onDone();
  };
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', close);
  b.on('close', close);
  // No destroy on the other side's 'close': a stack socket whose writable side finished may still
  // hold data in the core's send buffer; it closes by itself once the core says so.
}

/** Client side: a kernel TCP listener whose connections go over the stack to a peer agent. */
export class ProxyListener {
  readonly id: string;
  private server: Server | undefined;
  private readonly conns = new Set<Socket>();
  connections = 0;

  constructor(
    private readonly stack: Stack,
    readonly params: {
      listenPort: number;
      listenHost?: string;
      peer: string;
      peerPort: number;
      targetHost: string;
      targetPort: number;
    },
    private readonly log: Log,
  ) {
    this.id = `proxy-${params.listenPort}`;
  }

  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true }, (k) => this.accept(k));
      server.once('error', reject);
      server.listen(this.params.listenPort, this.params.listenHost ?? '127.0.0.1', () => {
        server.off('error', reject);
        server.on('error', (e) => this.log(`proxy ${this.id}: ${e.message}`));
        this.server = server;
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : this.params.listenPort);
      });
    });
  }

  private accept(k: Socket): void {
    this.connections++;
    this.conns.add(k);
    k.pause();
    const p = this.params;
    const s = this.stack.connect({ host: p.peer, port: p.peerPort });
    const header: ProxyHeader = { v: 1, host: p.targetHost, port: p.targetPort };
    s.write(`${JSON.stringify(header)}\n`);
    s.on('error', (e: Error & { code?: string }) => {
      this.log(`proxy ${this.id}: stack side ${e.code ?? ''} ${e.message}`);
    });
    join(k, s, () => this.conns.delete(k));
    k.resume();
  }

  async stop(): Promise<void> {
    for (const k of this.conns) k.destroy();
    this.conns.clear();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

/** Server side: accepts proxy connections on a stack port and opens kernel TCP to the target. */
export class ProxyServer {
  private server: StackServer | undefined;
  private readonly conns = new Set<StackSocket>();
  connections = 0;
  failures = 0;

  constructor(
    private readonly stack: Stack,
    readonly port: number,
    private readonly log: Log,
  ) {}

  start(): void {
    this.server = this.stack.createServer((s) => this.accept(s));
    this.server.listen(this.port);
  }

  private accept(s: StackSocket): void {
    this.connections++;
    this.conns.add(s);
    s.on('close', () => this.conns.delete(s));
    s.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) {
        if (buf.length > MAX_HEADER) this.reject(s, 'proxy header too long');
        return;
      }
      s.off('data', onData);
      s.pause();
      let h: ProxyHeader;
      try {
        h = JSON.parse(buf.subarray(0, nl).toString('utf8')) as ProxyHeader;
        if (h.v !== 1 || typeof h.host !== 'string' || !Number.isInteger(h.port))
          throw new Error('bad header');
      } catch {
        this.reject(s, 'bad proxy header');
        return;
      }
      const rest = buf.subarray(nl + 1);
      const k = netConnect({ host: h.host, port: h.port, allowHalfOpen: true });
      let connected = false;
      k.once('connect', () => {
        connected = true;
        if (rest.length > 0) k.write(rest);
        join(s, k, () => {});
        s.resume();
      });
      k.once('error', (e) => {
        if (!connected) {
          this.log(`proxy: connect ${h.host}:${h.port}: ${e.message}`);
          this.failures++;
          s.destroy();
        }
      });
    };
    s.on('data', onData);
  }

  private reject(s: StackSocket, why: string): void {
    this.failures++;
    this.log(`proxy: ${why}`);
    s.destroy();
  }

  stop(): void {
    this.server?.close();
    this.server = undefined;
    for (const s of this.conns) s.destroy();
    this.conns.clear();
  }
}
