/**
 * The node agent: owns one stack, serves newline-delimited JSON-RPC 2.0 on a unix socket (0600).
 * See protocol.ts for the methods. main.ts is the CLI entry; tests may run an Agent in-process.
 */
import { closeSync, openSync, unlinkSync, writeSync, chmodSync, existsSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { createStack, type Stack, type StackServer, type StackOptions } from '../api';
import { SysctlError } from '../sysctl';
import { VERSION } from '../version';
import { PcapFile } from '../wire/pcap';
import {
  AGENT_PROTOCOL_VERSION,
  type AgentMethod,
  type AgentMethods,
  type AgentNotification,
  type AgentNotifications,
  type AgentReport,
  DEFAULT_PROGRESS_INTERVAL_MS,
  DEFAULT_PROXY_PORT,
  DEFAULT_UDP_PORT,
  type JsonRpcId,
  RpcErrorCode,
  type SysctlKnobInfo,
} from './protocol';
import { ProxyListener, ProxyServer } from './proxy';
import { SendJob, SinkJob } from './traffic';

export interface AgentOptions {
  socketPath: string;
  /** Log file (appended); undefined logs nowhere. */
  logFile?: string;
  addresses?: string[];
  udpPort?: number;
  /** Stack port for incoming proxy connections; 0 disables. Default 8685. */
  proxyPort?: number;
  includeLoopback?: boolean;
  /** Abort a connection whose data stays unacknowledged this long (ms); 0/undefined = core default. */
  userTimeoutMs?: number;
  /** Force one MSS on every address (default: per address, from its MTU). */
  mss?: number;
  /**
   * Also serve the control protocol on 127.0.0.1:PORT (0/undefined = off). For a VM guest, where
   * the host reaches the agent through an SSH direct-tcpip channel: the guest is the lab's own
   * machine, and a port spares a bridge process between it and the unix socket.
   */
  controlTcpPort?: number;
  /** Extra stack options (tests). */
  stack?: Partial<StackOptions>;
  /** Called after shutdown completed (main.ts exits the process). */
  onShutdown?: () => void;
}

/** An error the RPC layer turns into a JSON-RPC error with data.code. */
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly rpcCode: number = RpcErrorCode.Failed,
  ) {
    super(message);
  }
}

type Handler = (params: unknown) => unknown | Promise<unknown>;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function need<T>(p: unknown, key: string, type: 'string' | 'number' | 'boolean'): T {
  if (!isObj(p) || typeof p[key] !== type)
    throw new AgentError('EINVAL', `params.${key} must be a ${type}`, -32602);
  return p[key] as T;
}
function opt<T>(p: unknown, key: string, type: 'string' | 'number' | 'boolean'): T | undefined {
  if (!isObj(p) || p[key] === undefined) return undefined;
  if (typeof p[key] !== type) throw new AgentError('EINVAL', `params.${key} must be a ${type}`, -32602);
  return p[key] as T;
}
function port(p: unknown, key: string, optional = false): number {
  const v = optional ? opt<number>(p, key, 'number') : need<number>(p, key, 'number');
  if (v === undefined) return -1;
  if (!Number.isInteger(v) || v < 1 || v > 65535)
    throw new AgentError('EINVAL', `params.${key} must be a port`, -32602);
  return v;
}

/** Probes a unix socket: true when something accepts connections on it. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ path });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 1000);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

export class Agent {
  stack!: Stack;
  private control: Server | undefined;
  private controlTcp: Server | undefined;
  private readonly clients = new Set<Socket>();
  private logFd = -1;
  private readonly started = performance.now();
  private readonly jobs = new Map<string, SendJob | SinkJob>();
  private nextJob = 1;
  private readonly listens = new Map<number, StackServer | ProxyServer>();
  private readonly proxies = new Map<string, ProxyListener>();
  private proxyServer: ProxyServer | undefined;
  private capture: { file: string; pcap: PcapFile } | undefined;
  private stopping: Promise<void> | undefined;
  private readonly handlers: Record<AgentMethod, Handler>;

  constructor(readonly options: AgentOptions) {
    this.handlers = this.makeHandlers();
  }

  log(msg: string): void {
    if (this.logFd < 0) return;
    try {
      writeSync(this.logFd, `${new Date().toISOString()} ${msg}\n`);
    } catch {
      // a full disk must not kill the agent
    }
  }

  /** Starts the stack and the control socket; rejects (EADDRINUSE) if another agent owns it. */
  async start(): Promise<void> {
    const o = this.options;
    if (o.logFile) this.logFd = openSync(o.logFile, 'a', 0o600);
    if (existsSync(o.socketPath)) {
      if (await socketAlive(o.socketPath)) {
        throw new AgentError('EADDRINUSE', `another agent is running on ${o.socketPath}`);
      }
      unlinkSync(o.socketPath); // stale
    }
    this.stack = await createStack({
      addresses: o.addresses,
      udpPort: o.udpPort ?? DEFAULT_UDP_PORT,
      includeLoopback: o.includeLoopback,
      ...(o.userTimeoutMs ? { userTimeoutMs: o.userTimeoutMs } : {}),
      ...(o.mss ? { mss: o.mss } : {}),
      log: (m) => this.log(m),
      ...o.stack,
    });
    const prevAddrs = this.stack.phy.onAddresses;
    this.stack.phy.onAddresses = (addrs) => {
      prevAddrs?.(addrs);
      this.log(`addresses now ${addrs.join(', ')}`);
      this.notify('agent.event', { t: this.uptime(), kind: 'addresses', detail: addrs });
    };
    const proxyPort = o.proxyPort ?? DEFAULT_PROXY_PORT;
    if (proxyPort > 0) {
      this.proxyServer = new ProxyServer(this.stack, proxyPort, (m) => this.log(m));
      this.proxyServer.start();
    }
    const server = createServer((c) => this.onClient(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const old = process.umask(0o177);
      server.listen(o.socketPath, () => {
        process.umask(old);
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(o.socketPath, 0o600);
    this.control = server;
    if (o.controlTcpPort) {
      const tcp = createServer((c) => this.onClient(c));
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(o.controlTcpPort, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      this.controlTcp = tcp;
    }
    this.log(
      `agent ${VERSION} pid ${process.pid} core ${this.stack.coreKind} on ${this.stack.addresses.join(', ')} udp ${this.stack.phy.port}`,
    );
  }

  uptime(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Closes everything: control socket (and its file), jobs, proxies, capture, the stack. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log('shutting down');
      for (const j of this.jobs.values()) j.stop();
      for (const p of this.proxies.values()) await p.stop();
      this.proxies.clear();
      this.proxyServer?.stop();
      this.stopCapture();
      const ctl = this.control;
      this.control = undefined;
      const tcp = this.controlTcp;
      this.controlTcp = undefined;
      tcp?.close();
      for (const c of this.clients) c.end();
      if (ctl) await new Promise<void>((r) => ctl.close(() => r()));
      for (const c of this.clients) c.destroy();
      if (ctl) {
        try {
          unlinkSync(this.options.socketPath);
        } catch {
          // already gone
        }
      }
      await this.stack?.close();
      this.log('bye');
      if (this.logFd >= 0) closeSync(this.logFd);
      this.logFd = -1;
    })();
    return this.stopping;
  }

  notify<N extends AgentNotification>(method: N, params: AgentNotifications[N]): void {
    if (this.clients.size === 0) return;
    const line = `${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`;
    for (const c of this.clients) if (!c.destroyed) c.write(line);
  }

  // ── control socket ─────────────────────────────────────────────────────────────────────────
  private onClient(c: Socket): void {
    this.clients.add(c);
    c.setEncoding('utf8');
    let buf = '';
    c.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 1 << 20) {
        this.reply(c, null, undefined, { code: RpcErrorCode.InvalidRequest, message: 'line too long' });
        c.destroy();
        return;
      }
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) void this.onLine(c, line);
        nl = buf.indexOf('\n');
      }
    });
    c.on('error', () => {});
    c.on('close', () => this.clients.delete(c));
  }

  private reply(
    c: Socket,
    id: JsonRpcId | null,
    result: unknown,
    error?: { code: number; message: string; data?: unknown },
  ): void {
    if (c.destroyed) return;
    const msg = error ? { jsonrpc: '2.0', id, error } : { jsonrpc: '2.0', id, result: result ?? null };
    c.write(`${JSON.stringify(msg)}\n`);
  }

  private async onLine(c: Socket, line: string): Promise<void> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      this.reply(c, null, undefined, { code: RpcErrorCode.ParseError, message: 'parse error' });
      return;
    }
    if (!isObj(req) || req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
      const id = isObj(req) && (typeof req.id === 'number' || typeof req.id === 'string') ? req.id : null;
      this.reply(c, id, undefined, { code: RpcErrorCode.InvalidRequest, message: 'invalid request' });
      return;
    }
    const id = typeof req.id === 'number' || typeof req.id === 'string' ? req.id : undefined;
    const handler = Object.hasOwn(this.handlers, req.method)
      ? this.handlers[req.method as AgentMethod]
      : undefined;
    if (!handler) {
      if (id !== undefined)
        this.reply(c, id, undefined, {
          code: RpcErrorCode.MethodNotFound,
          message: `unknown method ${req.method}`,
        });
      return;
    }
    try {
      const result = await handler(req.params);
      if (id !== undefined) this.reply(c, id, result);
    } catch (e) {
      const err = e as Error & { code?: unknown; rpcCode?: number };
      const code = typeof err.code === 'string' ? err.code : 'EIO';
      const rpcCode = e instanceof AgentError ? e.rpcCode : RpcErrorCode.Failed;
      this.log(`${req.method} failed: ${code} ${err.message}`);
      if (id !== undefined)
        this.reply(c, id, undefined, { code: rpcCode, message: err.message, data: { code } });
    }
    if (req.method === 'shutdown') {
      // Reply first (above), then stop.
      setImmediate(() => {
        void this.stop().then(() => this.options.onShutdown?.());
      });
    }
  }

  // ── methods ────────────────────────────────────────────────────────────────────────────────
  private makeHandlers(): Record<AgentMethod, Handler> {
    type R<M extends AgentMethod> = AgentMethods[M]['result'] | Promise<AgentMethods[M]['result']>;
    const h = {
      ping: (): R<'ping'> => ({ pong: true, t: this.uptime() }),
      version: (): R<'version'> => ({
        agent: VERSION,
        protocol: AGENT_PROTOCOL_VERSION,
        pid: process.pid,
        node: hostname(),
        core: this.stack.coreKind === 'tcp' ? 'tcp' : 'mptcp',
        addresses: this.stack.addresses,
        udpPort: this.stack.phy.port,
        proxyPort: this.proxyServer?.port ?? 0,
      }),
      'sysctl.get': (p: unknown): R<'sysctl.get'> => {
        const name = need<string>(p, 'name', 'string');
        const spec = this.stack.sysctl.spec(name);
        return { name: spec.name, value: this.stack.sysctl.get(name) };
      },
      'sysctl.set': (p: unknown): R<'sysctl.set'> => {
        const name = need<string>(p, 'name', 'string');
        if (!isObj(p) || !['string', 'number', 'boolean'].includes(typeof p.value))
          throw new AgentError('EINVAL', 'params.value must be a string, number or boolean', -32602);
        const raw = p.value as string | number | boolean;
        const value = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw;
        const spec = this.stack.sysctl.spec(name);
        const set = this.stack.sysctl.set(name, value);
        this.log(`sysctl ${spec.name} = ${set}`);
        return { name: spec.name, value: set };
      },
      'sysctl.list': (): R<'sysctl.list'> => ({ knobs: this.knobs() }),
      report: (): R<'report'> => this.report(),
      listen: (p: unknown): R<'listen'> => {
        const prt = port(p, 'port');
        const mode = opt<string>(p, 'mode', 'string') ?? 'discard';
        if (this.listens.has(prt) || prt === this.proxyServer?.port)
          throw new AgentError('EADDRINUSE', `port ${prt} already listening`);
        if (mode === 'proxy') {
          const ps = new ProxyServer(this.stack, prt, (m) => this.log(m));
          ps.start();
          this.listens.set(prt, ps);
        } else if (mode === 'echo' || mode === 'discard') {
          const srv = this.stack.createServer((s) => {
            s.on('error', () => {});
            if (mode === 'echo') s.pipe(s);
            else {
              s.resume();
              s.on('end', () => s.end());
            }
          });
          srv.listen(prt);
          this.listens.set(prt, srv);
        } else throw new AgentError('EINVAL', `unknown listen mode ${mode}`, -32602);
        return { port: prt };
      },
      unlisten: (p: unknown): R<'unlisten'> => {
        const prt = port(p, 'port');
        const l = this.listens.get(prt);
        if (!l) throw new AgentError('ENOENT', `not listening on ${prt}`);
        if (l instanceof ProxyServer) l.stop();
        else l.close();
        this.listens.delete(prt);
        return { port: prt };
      },
      'traffic.sink': (p: unknown): R<'traffic.sink'> => {
        const prt = port(p, 'port');
        if (opt<string>(p, 'host', 'string') === undefined) this.checkListenPort(prt);
        const id = this.jobId(p);
        const connectHost = opt<string>(p, 'host', 'string');
        const localAddress = opt<string>(p, 'localAddress', 'string');
        if (localAddress !== undefined && connectHost === undefined)
          throw new AgentError(
            'EINVAL',
            'params.localAddress goes with params.host (a connecting sink)',
            -32602,
          );
        const connectTo =
          connectHost === undefined
            ? undefined
            : { host: connectHost, ...(localAddress ? { localAddress } : {}) };
        const job = new SinkJob(
          id,
          this.stack,
          prt,
          this.trafficEvents(),
          opt<number>(p, 'intervalMs', 'number') ?? DEFAULT_PROGRESS_INTERVAL_MS,
          opt<boolean>(p, 'once', 'boolean') ?? false,
          connectTo,
        );
        job.start();
        this.jobs.set(id, job);
        this.log(`traffic.sink ${id} ${connectHost ? `from ${connectHost}:${prt}` : `on ${prt}`}`);
        return { id, port: prt };
      },
      'traffic.send': async (p: unknown): Promise<AgentMethods['traffic.send']['result']> => {
        const host = opt<string>(p, 'host', 'string');
        const listen = opt<boolean>(p, 'listen', 'boolean') ?? false;
        if ((host === undefined) === !listen)
          throw new AgentError(
            'EINVAL',
            'give params.host (connect and send) or params.listen: true (accept and send), not both',
            -32602,
          );
        const prt = port(p, 'port');
        if (listen) this.checkListenPort(prt);
        const bytes = opt<number>(p, 'bytes', 'number');
        const durationMs = opt<number>(p, 'durationMs', 'number');
        if (bytes === undefined && durationMs === undefined)
          throw new AgentError('EINVAL', 'give params.bytes or params.durationMs', -32602);
        if (bytes !== undefined && (!Number.isInteger(bytes) || bytes < 0))
          throw new AgentError('EINVAL', 'params.bytes must be a non-negative integer', -32602);
        const id = this.jobId(p);
        const args: {
          host?: string;
          port: number;
          bytes?: number;
          durationMs?: number;
          localAddress?: string;
        } = { port: prt };
        if (host !== undefined) args.host = host;
        if (bytes !== undefined) args.bytes = bytes;
        if (durationMs !== undefined) args.durationMs = durationMs;
        const la = opt<string>(p, 'localAddress', 'string');
        if (la && listen)
          throw new AgentError(
            'EINVAL',
            'params.localAddress goes with params.host (a connecting sender)',
            -32602,
          );
        if (la) args.localAddress = la;
        const job = new SendJob(
          id,
          this.stack,
          args,
          this.trafficEvents(),
          opt<number>(p, 'intervalMs', 'number') ?? DEFAULT_PROGRESS_INTERVAL_MS,
        );
        this.jobs.set(id, job);
        job.start();
        this.log(
          `traffic.send ${id} ${host === undefined ? `listening on ${prt}` : `to ${host}:${prt}`} ${bytes ?? ''}${durationMs ? ` ${durationMs} ms` : ''}`,
        );
        if (opt<boolean>(p, 'wait', 'boolean')) {
          await job.done;
          return { id, status: job.status() };
        }
        return { id };
      },
      'traffic.status': (p: unknown): R<'traffic.status'> => {
        const id = opt<string>(p, 'id', 'string');
        if (id !== undefined) {
          const j = this.jobs.get(id);
          if (!j) throw new AgentError('ENOENT', `no traffic job ${id}`);
          return { jobs: [j.status()] };
        }
        return { jobs: [...this.jobs.values()].map((j) => j.status()) };
      },
      'traffic.stop': (p: unknown): R<'traffic.stop'> => {
        const id = need<string>(p, 'id', 'string');
        const j = this.jobs.get(id);
        if (!j) throw new AgentError('ENOENT', `no traffic job ${id}`);
        j.stop(opt<boolean>(p, 'abort', 'boolean') ?? false);
        return j.status();
      },
      'proxy.start': async (p: unknown): Promise<AgentMethods['proxy.start']['result']> => {
        const listenPort = port(p, 'listenPort');
        const peer = need<string>(p, 'peer', 'string');
        const peerPort = port(p, 'peerPort', true);
        const targetHost = need<string>(p, 'targetHost', 'string');
        const targetPort = port(p, 'targetPort');
        const listenHost = opt<string>(p, 'listenHost', 'string');
        const params = {
          listenPort,
          peer,
          peerPort: peerPort > 0 ? peerPort : DEFAULT_PROXY_PORT,
          targetHost,
          targetPort,
          ...(listenHost ? { listenHost } : {}),
        };
        const pl = new ProxyListener(this.stack, params, (m) => this.log(m));
        if (this.proxies.has(pl.id))
          throw new AgentError('EADDRINUSE', `proxy on ${listenPort} already running`);
        await pl.start();
        this.proxies.set(pl.id, pl);
        this.log(
          `proxy ${pl.id}: :${listenPort} -> ${peer}:${params.peerPort} -> ${targetHost}:${targetPort}`,
        );
        return { id: pl.id, listenPort };
      },
      'proxy.stop': async (p: unknown): Promise<AgentMethods['proxy.stop']['result']> => {
        const id = opt<string>(p, 'id', 'string');
        const lp = opt<number>(p, 'listenPort', 'number');
        let stopped = 0;
        for (const [k, pl] of [...this.proxies]) {
          if ((id === undefined && lp === undefined) || k === id || pl.params.listenPort === lp) {
            await pl.stop();
            this.proxies.delete(k);
            stopped++;
          }
        }
        return { stopped };
      },
      'capture.start': (p: unknown): R<'capture.start'> => {
        const file = need<string>(p, 'file', 'string');
        if (this.capture) throw new AgentError('EBUSY', `already capturing to ${this.capture.file}`);
        const pcap = new PcapFile(file);
        const origin = performance.timeOrigin;
        this.stack.driver.tap = (pkt, _dir, now) => {
          try {
            pcap.writeSegment(origin + now, pkt.src, pkt.dst, pkt.data);
          } catch {
            // a segment the writer cannot wrap (mixed families): skip it
          }
        };
        this.capture = { file, pcap };
        this.log(`capture to ${file}`);
        return { file };
      },
      'capture.stop': (): R<'capture.stop'> => {
        const c = this.capture;
        if (!c) throw new AgentError('ENOENT', 'not capturing');
        const packets = c.pcap.packets;
        this.stopCapture();
        return { file: c.file, packets };
      },
      shutdown: (): R<'shutdown'> => ({ ok: true }),
    } satisfies Record<AgentMethod, Handler>;
    return h;
  }

  private stopCapture(): void {
    if (!this.capture) return;
    if (this.stack) this.stack.driver.tap = undefined;
    this.capture.pcap.close();
    this.log(`capture ${this.capture.file} closed`);
    this.capture = undefined;
  }

  /** Keeps the job table bounded over long campaigns: the oldest finished jobs go first. */
  private pruneJobs(): void {
    const MAX_FINISHED = 1000;
    let finished = 0;
    for (const j of this.jobs.values()) if (j.finished) finished++;
    for (const [id, j] of this.jobs) {
      if (finished <= MAX_FINISHED) break;
      if (j.finished) {
        this.jobs.delete(id);
        finished--;
      }
    }
  }

  /** Throws EADDRINUSE when something of ours already listens on the stack port. */
  private checkListenPort(prt: number): void {
    if (this.listens.has(prt) || prt === this.proxyServer?.port)
      throw new AgentError('EADDRINUSE', `port ${prt} already listening`);
    for (const j of this.jobs.values())
      if (j.port === prt && j.listens)
        throw new AgentError('EADDRINUSE', `a traffic job already listens on ${prt}`);
  }

  private jobId(p: unknown): string {
    this.pruneJobs();
    const want = opt<string>(p, 'id', 'string');
    if (want !== undefined) {
      const old = this.jobs.get(want);
      if (old && !old.finished) throw new AgentError('EEXIST', `traffic job ${want} is running`);
      return want;
    }
    return `t${this.nextJob++}`;
  }

  private trafficEvents() {
    return {
      progress: (pr: AgentNotifications['traffic.progress']) => this.notify('traffic.progress', pr),
      done: (d: AgentNotifications['traffic.done']) => {
        this.log(
          `traffic ${d.id} ${d.role} done: ${d.result.bytes} bytes ${d.result.seconds.toFixed(3)} s ${d.result.error?.code ?? 'ok'}`,
        );
        this.notify('traffic.done', d);
      },
    };
  }

  private knobs(): SysctlKnobInfo[] {
    const s = this.stack.sysctl;
    return s.list().map((k) => {
      const spec = s.spec(k.name);
      const info: SysctlKnobInfo = {
        name: k.name,
        type: spec.type,
        value: k.value,
        default: k.default,
        description: k.description,
      };
      if (spec.type === 'int' || spec.type === 'triple') {
        info.min = spec.min;
        info.max = spec.max;
      } else info.choices = [...spec.values];
      return info;
    });
  }

  report(): AgentReport {
    const r = this.stack.report();
    const mem = process.memoryUsage();
    return {
      uptime: this.uptime(),
      core: r.core === 'tcp' ? 'tcp' : 'mptcp',
      addresses: r.addresses,
      udpPort: r.udpPort,
      phy: {
        datagramsIn: r.phy.datagramsIn,
        datagramsOut: r.phy.datagramsOut,
        bytesIn: r.phy.bytesIn,
        bytesOut: r.phy.bytesOut,
        garbageDropped: r.phy.garbageDropped + r.coreDropped,
        sendErrors: r.phy.sendErrors,
      },
      syn: r.syn,
      connections: r.connections,
      stack: r.stack,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
    };
  }
}

export function isSysctlError(e: unknown): e is SysctlError {
  return e instanceof SysctlError;
}
