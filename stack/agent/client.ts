/**
 * A typed client for the node agent's control socket (newline-delimited JSON-RPC 2.0).
 *
 *   const agent = await AgentClient.connect('/run/mplab/lab/a.sock');
 *   const { pong } = await agent.call('ping');
 *   const off = agent.onNotification('traffic.progress', (p) => console.log(p.bytes));
 *   await agent.close();
 */
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type {
  AgentMethod,
  AgentNotification,
  AgentNotifications,
  JsonRpcErrorObject,
  ParamsOf,
  ResultOf,
} from './protocol';

/** An error the agent returned (or a transport failure); `code` is the agent's errno-like code. */
export class AgentRpcError extends Error {
  readonly rpcCode: number;
  readonly code: string;
  readonly data: unknown;
  constructor(method: string, err: JsonRpcErrorObject) {
    super(`${method}: ${err.message}`);
    this.name = 'AgentRpcError';
    this.rpcCode = err.code;
    this.data = err.data;
    const code = (err.data as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : 'ERPC';
  }
}

export interface AgentClientOptions {
  /** Time to wait for the socket to accept the connection. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Default per-call timeout. Default 30000 ms. */
  callTimeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

type Handler = (params: unknown) => void;

export class AgentClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, Set<Handler>>();
  private buf = '';
  private closedError: Error | undefined;
  private readonly closeWaiters: Array<() => void> = [];

  private constructor(
    private readonly socket: Duplex,
    private readonly callTimeoutMs: number,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('agent control socket closed')));
  }

  /** Connects to an agent's control socket. */
  static connect(path: string, options: AgentClientOptions = {}): Promise<AgentClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error(`connect ${path}: timed out`), { code: 'ETIMEDOUT' }));
      }, connectTimeoutMs);
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new AgentClient(socket, options.callTimeoutMs ?? 30_000));
      });
    });
  }

  /**
   * A client over any byte stream carrying the same protocol: an SSH channel to a remote agent's
   * socket, or an exec channel running `agent.js --relay SOCKET` (lab/remote/agentrpc.ts).
   */
  static fromStream(stream: Duplex, options: AgentClientOptions = {}): AgentClient {
    return new AgentClient(stream, options.callTimeoutMs ?? 30_000);
  }

  /** Calls a method; rejects with AgentRpcError on an agent error, or on timeout/close. */
  call<M extends AgentMethod>(
    method: M,
    params?: ParamsOf<M>,
    options: CallOptions = {},
  ): Promise<ResultOf<M>> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const p: Pending = { method, resolve: resolve as (v: unknown) => void, reject, timer: undefined };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        p.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(
            new AgentRpcError(method, {
              code: -32000,
              message: `timed out after ${timeoutMs} ms`,
              data: { code: 'ETIMEDOUT' },
            }),
          );
        }, timeoutMs);
      }
      this.pending.set(id, p);
      const msg =
        params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Subscribes to a notification; returns an unsubscribe function. */
  onNotification<N extends AgentNotification>(
    method: N,
    handler: (params: AgentNotifications[N]) => void,
  ): () => void {
    let set = this.handlers.get(method);
    if (!set) this.handlers.set(method, (set = new Set()));
    const h = handler as Handler;
    set.add(h);
    return () => {
      set.delete(h);
    };
  }

  /** Resolves when the control connection is closed (by either side). */
  closed(): Promise<void> {
    if (this.closedError) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }

  get isOpen(): boolean {
    return this.closedError === undefined;
  }

  async close(): Promise<void> {
    if (this.closedError) return;
    const done = this.closed();
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    await done;
    clearTimeout(t);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.trim()) this.onLine(line);
      nl = this.buf.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    let msg: {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: JsonRpcErrorObject;
    };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof msg.method === 'string' && msg.id === undefined) {
      const set = this.handlers.get(msg.method);
      if (set) for (const h of [...set]) h(msg.params);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.error) p.reject(new AgentRpcError(p.method, msg.error));
    else p.resolve(msg.result);
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    for (const w of this.closeWaiters.splice(0)) w();
  }
}
