/**
 * The contract between the sans-I/O protocol core and its drivers (simulator, real-time driver).
 *
 * The core never touches sockets, timers or the clock: a driver hands it packets and the time,
 * drains what it wants to send, and arms one timer for `nextDeadline()`.
 *
 * Time is in milliseconds (a float; the simulator's virtual clock or performance.now()).
 * A packet is one encoded TCP segment (header, options, payload) between two IP addresses; this is
 * exactly what the UDP phy carries in a datagram, and what the TUN phy wraps in an IP header.
 */

/** One TCP segment on the wire between two IP addresses (textual, IPv4 dotted or IPv6). */
export interface Packet {
  src: string;
  dst: string;
  /** Encoded TCP segment: header + options + payload. Owned by the receiver once handed over. */
  data: Uint8Array;
}

/** What a connection tells its application, drained by the driver in order. */
export type CoreEvent =
  /** An active open completed (or fell back to plain TCP): the connection can carry data. */
  | { type: 'connected'; conn: number }
  /** A listener accepted a new connection; `listener` is the local port it came in on. */
  | { type: 'accepted'; conn: number; port: number }
  /** Bytes in order for the application. */
  | { type: 'data'; conn: number; data: Uint8Array }
  /** Send buffer has room again after write() accepted less than asked. */
  | { type: 'writable'; conn: number }
  /** The peer finished sending (FIN / DATA_FIN): no more data events will follow. */
  | { type: 'end'; conn: number }
  /** The connection is gone; error is set when it ended abnormally (RST, timeout, fast close). */
  | { type: 'closed'; conn: number; error?: { code: string; message: string } };

export interface ConnectOptions {
  host: string;
  port: number;
  localAddress?: string;
  localPort?: number;
}

export interface ConnInfo {
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** 'mptcp' while multipath, 'tcp' for plain TCP or after fallback. */
  mode: 'mptcp' | 'tcp';
}

/** Why a destination cannot be reached: errno-style for a failed send, icmp-* for an ICMP report. */
export type UnreachableCode =
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'icmp-net-unreachable'
  | 'icmp-host-unreachable'
  | 'icmp-admin-prohibited';

export const UNREACHABLE_CODES: readonly UnreachableCode[] = [
  'EHOSTUNREACH',
  'ENETUNREACH',
  'icmp-net-unreachable',
  'icmp-host-unreachable',
  'icmp-admin-prohibited',
];

/** A whole host's protocol core: demultiplexing, listeners, every connection. */
export interface NetCore {
  /** A packet arrived from the network. */
  input(packet: Packet, now: number): void;
  /** Run timers that are due at `now`. Calling it early is harmless. */
  advance(now: number): void;
  /** Earliest time the core needs `advance` again; Infinity when idle. */
  nextDeadline(): number;
  /** Packets to send, in order; the caller takes ownership of the array. Empty when none. */
  takeOutput(): Packet[];
  /** Application events, in order; the caller takes ownership of the array. */
  takeEvents(): CoreEvent[];

  listen(port: number): void;
  unlisten(port: number): void;
  /** Opens a connection; returns its id. Completion arrives as a 'connected' or 'closed' event. */
  connect(options: ConnectOptions, now: number): number;
  /** Queues bytes; returns how many were accepted (fewer when the send buffer is full). */
  write(conn: number, data: Uint8Array, now: number): number;
  /** Graceful close after queued data (FIN, or DATA_FIN for MPTCP). */
  end(conn: number, now: number): void;
  /** Abortive close (RST, or MP_FASTCLOSE for MPTCP). */
  abort(conn: number, now: number): void;
  /** The application consumed `bytes` of delivered data: the receive window may reopen. */
  consumed(conn: number, bytes: number, now: number): void;
  info(conn: number): ConnInfo | undefined;

  /** Local addresses the core may use; changing them lets the path manager react. */
  setAddresses(addresses: string[], now: number): void;

  /**
   * Optional: a packet from `src` to `dst` cannot be delivered: the phy's send failed for want of
   * a route (EHOSTUNREACH, ENETUNREACH), an ICMP destination unreachable came back, or the
   * simulator's world has no route. `code` says which (UNREACHABLE_CODES). A core that implements
   * it fails an opening subflow on that pair at once instead of retransmitting its SYN, and does
   * not try the pair again until its addresses change.
   */
  unreachable?(src: string, dst: string, code: UnreachableCode, now: number): void;

  /** Optional: the host's routes or routing rules changed (pairs found unroutable may work now). */
  routesChanged?(now: number): void;

  /** A cheap snapshot of every live connection, for traces, live views and reports. */
  connStats(): ConnStats[];
}

/** Figures of one TCP subflow (or of a plain TCP connection). Bytes are cumulative. */
export interface SubflowStats {
  /** 1 for the master subflow; the path manager's path index for the others. */
  pathIndex: number;
  local: { address: string; port: number };
  remote: { address: string; port: number };
  state: string;
  mss: number;
  cwnd: number;
  ssthresh: number;
  srttMs: number;
  rttvarMs: number;
  bytesInFlight: number;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  retransmits: number;
  /** Bytes of data re-sent on this subflow after another subflow failed or stalled (MPTCP only). */
  reinjectedBytes?: number;
}

export interface ConnStats {
  conn: number;
  mode: 'mptcp' | 'tcp';
  state: string;
  /** Application bytes delivered to the peer (acked at data level) and received in order. */
  bytesDelivered: number;
  bytesReceived: number;
  /** Data-level bytes that arrived ahead of a gap, cumulative (MPTCP only). */
  oooBytes?: number;
  subflows: SubflowStats[];
}
