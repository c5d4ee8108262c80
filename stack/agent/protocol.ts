/**
 * The node agent's control protocol: newline-delimited JSON-RPC 2.0 over a unix socket (mode 0600).
 *
 * One JSON object per line, UTF-8. Requests carry an `id`; the agent answers each with a response
 * carrying the same id. The agent also sends notifications (no id) to every connected client:
 * `traffic.progress` per interval of a running traffic job, `traffic.done` when one finishes.
 *
 * This file only holds types and constants (no I/O), so the lab can import it freely.
 */
import type { ConnStats } from '../core/contract';

export const AGENT_PROTOCOL_VERSION = 1;
/** UDP port the UDP phy binds on each local address. */
export const DEFAULT_UDP_PORT = 8684;
/** Stack (MPTCP) port every agent listens on for TCP-proxy connections from peer agents. */
export const DEFAULT_PROXY_PORT = 8685;
/** Default interval of `traffic.progress` notifications. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 1000;

// ---------------------------------------------------------------------------------------------
// JSON-RPC 2.0 framing

export type JsonRpcId = number | string;

export interface JsonRpcRequest<M extends string = string, P = unknown> {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: M;
  params?: P;
}

export interface JsonRpcNotification<M extends string = string, P = unknown> {
  jsonrpc: '2.0';
  method: M;
  params: P;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  /** For agent errors: `{ code: 'ECONNREFUSED' | 'EINVAL' | ... }` and context. */
  data?: unknown;
}

export type JsonRpcResponse<R = unknown> =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: R }
  | { jsonrpc: '2.0'; id: JsonRpcId | null; error: JsonRpcErrorObject };

/** JSON-RPC error codes the agent uses. */
export const RpcErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The operation failed (bad knob value, port in use, unknown job, connection refused...). */
  Failed: -32000,
} as const;

// ---------------------------------------------------------------------------------------------
// Shared shapes

/** Knob values are numbers (int knobs) or strings (enum and triple knobs); set also takes booleans (1/0). */
export type SysctlValue = string | number | boolean;

export interface SysctlKnobInfo {
  /** /proc-style name, e.g. `net.mptcp.mptcp_enabled`. */
  name: string;
  /** 'triple' values are strings "min default max" (like net.ipv4.tcp_rmem). */
  type: 'int' | 'enum' | 'triple';
  value: SysctlValue;
  default: SysctlValue;
  description?: string;
  /** For ints and triples. */
  min?: number;
  max?: number;
  /** For enums. */
  choices?: string[];
}

/** Per-subflow figures in a `traffic.progress` notification (cumulative bytes). */
export interface TrafficSubflowFigures {
  pathIndex: number;
  local: string;
  remote: string;
  /** Bytes sent (sender) or received (sink) on this subflow so far. */
  bytes: number;
  cwnd: number;
  srttMs: number;
  /** Segments this subflow retransmitted so far (sender). */
  retransmits?: number;
  /** Data bytes re-sent on this subflow after another one failed or stalled (sender, MPTCP). */
  reinjectedBytes?: number;
}

export type TrafficRole = 'send' | 'sink';

export interface TrafficResult {
  /** Application bytes moved (sent and acknowledged-or-queued for a sender, received for a sink). */
  bytes: number;
  /** From first byte (sink) or connect (sender) to end. */
  seconds: number;
  /** Sender: from connect to the application's last write (the sending window). */
  sendSeconds?: number;
  /** SHA-256 (hex) of every byte moved. */
  sha256: string;
  /** Set when the transfer ended abnormally: e.g. ECONNRESET, ETIMEDOUT, ECONNREFUSED, ESTOPPED. */
  error?: { code: string; message: string };
}

export interface TrafficStatus {
  id: string;
  role: TrafficRole;
  /** For a sink: the listening port; for a sender: the remote port. */
  port: number;
  host?: string;
  state: 'listening' | 'connecting' | 'running' | 'done' | 'failed' | 'stopped';
  bytes: number;
  /** Seconds since the job started moving data. */
  seconds: number;
  /** For a sink: connections accepted so far. */
  connections: number;
  /** Present once the job has finished (a sink finishes on stop, or after its first connection with `once`). */
  result?: TrafficResult;
}

export interface TrafficProgress {
  id: string;
  role: TrafficRole;
  /** Seconds since the job started moving data. */
  t: number;
  /** Cumulative application bytes. */
  bytes: number;
  /** Bytes in this interval and the interval length, for a rate. */
  intervalBytes: number;
  intervalSeconds: number;
  /** Sink: data-level bytes that arrived ahead of a gap so far (MPTCP). */
  oooBytes?: number;
  subflows: TrafficSubflowFigures[];
}

export interface TrafficDone {
  id: string;
  role: TrafficRole;
  result: TrafficResult;
}

export interface PhyCounters {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams dropped as garbage: by the phy (cannot be a TCP header) or by the core (undecodable, bad checksum). */
  garbageDropped: number;
  /** Send errors (EHOSTUNREACH, ENETUNREACH, address gone...). */
  sendErrors: number;
}

export interface AgentReport {
  /** Seconds since the agent started. */
  uptime: number;
  core: 'mptcp' | 'tcp';
  addresses: string[];
  udpPort: number;
  phy: PhyCounters;
  /** The runtime's SYN backlog: SYNs dropped over the limits, handshakes half-open now. */
  syn?: { dropped: number; halfOpen: number };
  connections: ConnStats[];
  /** The stack's own state report (stack/report.ts) when that module exists. */
  stack?: unknown;
  memory: { rss: number; heapUsed: number };
}

// ---------------------------------------------------------------------------------------------
// Methods: name -> params and result

export interface AgentMethods {
  ping: { params: undefined | Record<string, never>; result: { pong: true; t: number } };
  version: {
    params: undefined | Record<string, never>;
    result: {
      agent: string;
      protocol: number;
      pid: number;
      node: string;
      core: 'mptcp' | 'tcp';
      addresses: string[];
      udpPort: number;
      proxyPort: number;
    };
  };
  'sysctl.get': { params: { name: string }; result: { name: string; value: SysctlValue } };
  'sysctl.set': {
    params: { name: string; value: SysctlValue };
    result: { name: string; value: SysctlValue };
  };
  'sysctl.list': { params: undefined | Record<string, never>; result: { knobs: SysctlKnobInfo[] } };
  report: { params: undefined | Record<string, never>; result: AgentReport };
  /**
   * Accept connections on a stack port. mode 'discard' (default) reads and drops; 'echo' echoes;
   * 'proxy' expects the TCP-proxy header (the default proxy port is already listening).
   */
  listen: { params: { port: number; mode?: 'discard' | 'echo' | 'proxy' }; result: { port: number } };
  unlisten: { params: { port: number }; result: { port: number } };
  /**
   * Accept on a stack port, hash everything received. Returns at once; `traffic.done` per connection.
   * With `host`, connect to host:port instead (from `localAddress` when given) and receive on that
   * one connection: the receiver opens the connection, as `iperf3 -R`'s client does.
   */
  'traffic.sink': {
    params: {
      port: number;
      id?: string;
      intervalMs?: number;
      once?: boolean;
      host?: string;
      localAddress?: string;
    };
    result: { id: string; port: number };
  };
  /**
   * Connect to host:port over the stack and send `bytes` bytes, or for `durationMs`, of a
   * deterministic pseudo-random pattern; hash with SHA-256. Returns at once with the job id, or
   * with the final status when `wait` is true. With `listen: true` and no host, listen on `port`
   * and send to the first connection that arrives (the sender as server, `iperf3 -R`'s server).
   */
  'traffic.send': {
    params: {
      host?: string;
      listen?: boolean;
      port: number;
      bytes?: number;
      durationMs?: number;
      localAddress?: string;
      intervalMs?: number;
      id?: string;
      wait?: boolean;
    };
    result: { id: string; status?: TrafficStatus };
  };
  'traffic.status': { params: undefined | { id?: string }; result: { jobs: TrafficStatus[] } };
  /**
   * Stops a job (a sink stops listening; a sender ends its connection gracefully, or with `abort`
   * resets it at once: for a run that failed because the peer is gone).
   */
  'traffic.stop': { params: { id: string; abort?: boolean }; result: TrafficStatus };
  /**
   * Listen on a local kernel TCP port; carry each accepted connection over the stack to the peer
   * agent at peer:peerPort (default DEFAULT_PROXY_PORT), which opens a kernel TCP connection to
   * targetHost:targetPort.
   */
  'proxy.start': {
    params: {
      listenPort: number;
      listenHost?: string;
      peer: string;
      peerPort?: number;
      targetHost: string;
      targetPort: number;
    };
    result: { id: string; listenPort: number };
  };
  'proxy.stop': { params: { id?: string; listenPort?: number }; result: { stopped: number } };
  /** Write a pcap of every segment the stack sends and receives (wrapped in IP headers). */
  'capture.start': { params: { file: string }; result: { file: string } };
  'capture.stop': { params: undefined | Record<string, never>; result: { file: string; packets: number } };
  /** Replies, then closes everything and exits. */
  shutdown: { params: undefined | Record<string, never>; result: { ok: true } };
}

export type AgentMethod = keyof AgentMethods;
export type ParamsOf<M extends AgentMethod> = AgentMethods[M]['params'];
export type ResultOf<M extends AgentMethod> = AgentMethods[M]['result'];

export interface AgentNotifications {
  'traffic.progress': TrafficProgress;
  'traffic.done': TrafficDone;
  /** Something the lab may want to show: an address appeared or went away, etc. */
  'agent.event': { t: number; kind: string; detail?: unknown };
}

export type AgentNotification = keyof AgentNotifications;

/** The TCP-proxy header: first line a peer agent sends on a proxy connection, then raw bytes. */
export interface ProxyHeader {
  v: 1;
  host: string;
  port: number;
}
