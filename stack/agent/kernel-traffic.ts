/**
 * The kernel end of a traffic run: MPTCP (IPPROTO_MPTCP = 262) or plain TCP sockets of the kernel
 * this process runs on, opened through libc with koffi (Node's net module cannot ask for protocol
 * 262). It is what `--stack kernel` runs in a namespace (under `ip netns exec`) and inside a VM
 * guest (over SSH; the guest has Node but no Python):
 *
 *   node agent.js --kernel-traffic sink PROTO HOST PORT INTERVAL_S [connect [SRC]]
 *   node agent.js --kernel-traffic send PROTO HOST PORT BYTES SECONDS INTERVAL_S [SRC] [listen]
 *
 * The sink hashes what it receives; the sender sends BYTES (or for SECONDS) of random data and
 * hashes it. Either end listens (on the wildcard address: MP_JOINs arrive on the node's other
 * addresses too, and a listener bound to one address makes the kernel reset a join to any other)
 * or connects. Output is one JSON object per line on stdout:
 *
 *   {"listening": PORT}                     the listener is up (it stays open for the joins)
 *   {"connecting": true}                    the connecting end is about to connect (it started)
 *   {"connected": true}                     the connecting end is connected (a sender: also a listener)
 *   {"t": S, "bytes": N, "subflows": [...]} progress every interval
 *   {"done": true, "bytes": N, "sha256": H, "seconds": S, ["sendSeconds": S], "subflows": [...]}
 *
 * `subflows` are this end's own figures of each subflow (getsockopt SOL_MPTCP MPTCP_TCPINFO and
 * MPTCP_SUBFLOW_ADDRS, linux/mptcp.h, Linux ≥ 5.16; TCP_INFO for a plain TCP socket), so a
 * controller needs no `ss` round trip per interval. A failure is a message on stderr and exit 1.
 *
 * The process does one thing, so it blocks in libc (accept, connect) on the main thread and waits
 * for data, or room to send, with poll(2) and the next interval (or the deadline) as the timeout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { type KoffiModule, type LibcFn as Fn, loadLibc } from '../runtime/libc';
import { formatIPv4, formatIPv6 } from '../wire/ip';

export const IPPROTO_MPTCP = 262;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_SNDTIMEO = 21;
const SOL_TCP = 6;
const TCP_INFO = 11;
const SOL_MPTCP = 284;
const MPTCP_TCPINFO = 2;
const MPTCP_SUBFLOW_ADDRS = 3;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SHUT_WR = 1;
const POLLIN = 0x001;
const POLLOUT = 0x004;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const EINTR = 4;
const EAGAIN = 11;

/** One subflow as this end sees it (the shape of lab/run/kernel.ts's SsSocket). */
export interface KernelSubflow {
  local: string;
  peer: string;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  /** Congestion window in bytes (segments × MSS). */
  cwnd: number;
  rttMs: number;
  mss: number;
  /** Segments retransmitted over the subflow's life. */
  retrans: number;
}

// --- decoders (pure; test/unit/agent/kernel-traffic.test.ts) ------------------------------------

/** struct mptcp_subflow_data: the header MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS share. */
export const SUBFLOW_DATA_SIZE = 16;
/** struct tcp_info as this file reads it (Linux ≥ 4.19 has every field used; later ones grow it). */
export const TCP_INFO_SIZE = 232;
/** struct mptcp_subflow_addrs: two struct __kernel_sockaddr_storage. */
export const SUBFLOW_ADDRS_SIZE = 256;

export interface SubflowDataHeader {
  /** Subflows the connection has (may exceed what the buffer held). */
  num: number;
  sizeKernel: number;
  /** The stride of the elements after the header. */
  sizeUser: number;
}

/** The request buffer: the header with the element size we read, room for `max` elements. */
export function subflowDataRequest(elemSize: number, max: number): Buffer {
  const b = Buffer.alloc(SUBFLOW_DATA_SIZE + elemSize * max);
  b.writeUInt32LE(SUBFLOW_DATA_SIZE, 0);
  b.writeUInt32LE(elemSize, 12);
  return b;
}

export function decodeSubflowData(b: Buffer): SubflowDataHeader | undefined {
  if (b.length < SUBFLOW_DATA_SIZE) return undefined;
  return { num: b.readUInt32LE(4), sizeKernel: b.readUInt32LE(8), sizeUser: b.readUInt32LE(12) };
}

/** An IPv6 address in its shortest text form (RFC 5952), an IPv4-mapped one (a dual-stack peer) as IPv4. */
export function ipv6Text(a: Buffer): string {
  if (a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff) return formatIPv4(a, 12);
  return formatIPv6(a);
}

/** A struct sockaddr_in / sockaddr_in6 at `off` as "address:port" ('' for another family). */
export function decodeSockaddr(b: Buffer, off = 0): string {
  if (b.length < off + 16) return '';
  const family = b.readUInt16LE(off);
  const port = b.readUInt16BE(off + 2);
  if (family === AF_INET) return `${b[off + 4]}.${b[off + 5]}.${b[off + 6]}.${b[off + 7]}:${port}`;
  if (family === AF_INET6 && b.length >= off + 24)
    return `${ipv6Text(b.subarray(off + 8, off + 24))}:${port}`;
  return '';
}

export interface TcpInfoFigures {
  state: number;
  mss: number;
  rttUs: number;
  cwndSegments: number;
  totalRetrans: number;
  bytesAcked: number;
  bytesReceived: number;
  bytesSent: number;
}

/** The fields of a struct tcp_info at `off` that the figures need (zero past `len`). */
export function decodeTcpInfo(b: Buffer, off = 0, len = TCP_INFO_SIZE): TcpInfoFigures {
  const end = Math.min(b.length, off + len);
  const u32 = (at: number) => (off + at + 4 <= end ? b.readUInt32LE(off + at) : 0);
  const u64 = (at: number) => (off + at + 8 <= end ? Number(b.readBigUInt64LE(off + at)) : 0);
  return {
    state: off < end ? (b[off] as number) : 0,
    mss: u32(16),
    rttUs: u32(68),
    cwndSegments: u32(80),
    totalRetrans: u32(100),
    bytesAcked: u64(120),
    bytesReceived: u64(128),
    bytesSent: u64(200),
  };
}

export function subflowOf(local: string, peer: string, t: TcpInfoFigures): KernelSubflow {
  return {
    local,
    peer,
    bytesSent: t.bytesSent,
    bytesAcked: t.bytesAcked,
    bytesReceived: t.bytesReceived,
    cwnd: t.cwndSegments * t.mss,
    rttMs: t.rttUs / 1000,
    mss: t.mss,
    retrans: t.totalRetrans,
  };
}

/**
 * The subflows of an MPTCP socket from the answers to MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS, which
 * list them in the same order (both walk the connection's subflow list). Undefined when the two
 * disagree on the count (a subflow came or went between the calls): the caller asks again.
 */
export function decodeSubflows(tcpinfo: Buffer, addrs: Buffer): KernelSubflow[] | undefined {
  const hi = decodeSubflowData(tcpinfo);
  const ha = decodeSubflowData(addrs);
  if (!hi || !ha || hi.num !== ha.num) return undefined;
  const out: KernelSubflow[] = [];
  const n = Math.min(
    hi.num,
    Math.floor((tcpinfo.length - SUBFLOW_DATA_SIZE) / Math.max(1, hi.sizeUser)),
    Math.floor((addrs.length - SUBFLOW_DATA_SIZE) / Math.max(1, ha.sizeUser)),
  );
  for (let k = 0; k < n; k++) {
    const ai = SUBFLOW_DATA_SIZE + k * ha.sizeUser;
    const ti = SUBFLOW_DATA_SIZE + k * hi.sizeUser;
    const t = decodeTcpInfo(tcpinfo, ti, Math.min(hi.sizeUser, hi.sizeKernel));
    out.push(subflowOf(decodeSockaddr(addrs, ai), decodeSockaddr(addrs, ai + 128), t));
  }
  return out;
}

/** A struct sockaddr_in(6) for `host`:`port` ('' → the wildcard address of `v6`'s family). */
export function sockaddrOf(host: string, port: number, v6: boolean): Buffer {
  if (!v6) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    if (host) {
      const p = host.split('.').map(Number);
      if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255))
        throw new Error(`not an IPv4 address: ${host}`);
      b.set(p, 4);
    }
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  if (host) ipv6Bytes(host).copy(b, 8);
  return b;
}

function ipv6Bytes(host: string): Buffer {
  const out = Buffer.alloc(16);
  let text = host;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail.push(...v4[1]!.split('.').map(Number));
    text = `${text.slice(0, -v4[1]!.length)}0:0`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest !== undefined && rest !== '' ? rest.split(':') : [];
  if (rest === undefined && hs.length !== 8) throw new Error(`not an IPv6 address: ${host}`);
  const groups = [...hs, ...Array(8 - hs.length - rs.length).fill('0'), ...rs];
  groups.forEach((g, i) => {
    const v = Number.parseInt(g as string, 16);
    if (!/^[0-9a-f]{1,4}$/i.test(g as string) || Number.isNaN(v))
      throw new Error(`not an IPv6 address: ${host}`);
    out.writeUInt16BE(v, i * 2);
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

// --- libc ----------------------------------------------------------------------------------------

interface Libc {
  koffi: KoffiModule;
  socket: Fn;
  setsockopt: Fn;
  getsockopt: Fn;
  getsockname: Fn;
  getpeername: Fn;
  bind: Fn;
  listen: Fn;
  accept: Fn;
  connect: Fn;
  send: Fn;
  recv: Fn;
  shutdown: Fn;
  poll: Fn;
  close: Fn;
  strerror: Fn;
}

let libcLoaded: Libc | undefined;

/** The calls this file makes, declared once (koffi and libc from runtime/libc.ts). */
function libc(): Libc {
  if (libcLoaded) return libcLoaded;
  const { koffi, lib } = loadLibc('the kernel traffic end');
  libcLoaded = {
    koffi,
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *val, _Inout_ uint32_t *len)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)'),
    getpeername: lib.func('int getpeername(int fd, void *addr, _Inout_ uint32_t *len)'),
    bind: lib.func('int bind(int fd, void *addr, uint32_t len)'),
    listen: lib.func('int listen(int fd, int backlog)'),
    accept: lib.func('int accept(int fd, void *addr, void *len)'),
    connect: lib.func('int connect(int fd, void *addr, uint32_t len)'),
    send: lib.func('long send(int fd, void *buf, unsigned long n, int flags)'),
    recv: lib.func('long recv(int fd, void *buf, unsigned long n, int flags)'),
    shutdown: lib.func('int shutdown(int fd, int how)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    close: lib.func('int close(int fd)'),
    strerror: lib.func('const char *strerror(int errnum)'),
  };
  return libcLoaded;
}

class SysError extends Error {}

/** Calls a libc function, again on EINTR; a negative answer is an error naming `what`. */
function sys(what: string, f: () => number): number {
  for (;;) {
    const r = f();
    if (r >= 0) return r;
    const err = libc().koffi.errno();
    if (err === EINTR) continue;
    throw new SysError(`${what}: ${libc().strerror(err) as string} (errno ${err})`);
  }
}

const isV6 = (host: string) => host.includes(':');

function setInt(fd: number, level: number, name: number, v: number): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  sys('setsockopt', () => libc().setsockopt(fd, level, name, b, 4) as number);
}

function setSndTimeout(fd: number, seconds: number): void {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(seconds), 0);
  sys('setsockopt SO_SNDTIMEO', () => libc().setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, tv, 16) as number);
}

function getopt(fd: number, level: number, name: number, buf: Buffer): number | undefined {
  const len = [buf.length];
  return (libc().getsockopt(fd, level, name, buf, len) as number) < 0 ? undefined : (len[0] as number);
}

function nameOf(fd: number, peer: boolean): string {
  const b = Buffer.alloc(128);
  const len = [b.length];
  const r = (peer ? libc().getpeername : libc().getsockname)(fd, b, len) as number;
  return r < 0 ? '' : decodeSockaddr(b);
}

const MAX_SUBFLOWS = 32;

/** An "address:port" of a live socket: both present, the port not 0. */
const open = (a: string) => a !== '' && !a.endsWith(':0');

/** This end's subflows: MPTCP's own lists, or the one TCP connection (plain TCP, or no MPTCP_TCPINFO). */
export function subflowsOf(fd: number, proto: number): KernelSubflow[] {
  if (proto === IPPROTO_MPTCP)
    for (let attempt = 0; attempt < 3; attempt++) {
      const ti = subflowDataRequest(TCP_INFO_SIZE, MAX_SUBFLOWS);
      const ad = subflowDataRequest(SUBFLOW_ADDRS_SIZE, MAX_SUBFLOWS);
      if (getopt(fd, SOL_MPTCP, MPTCP_TCPINFO, ti) === undefined) break;
      if (getopt(fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, ad) === undefined) break;
      const s = decodeSubflows(ti, ad);
      // a subflow without both addresses (or a port of 0: the kernel clears the peer's when it
      // closes one) is no path any more
      if (s) return s.filter((x) => open(x.local) && open(x.peer));
    }
  const info = Buffer.alloc(TCP_INFO_SIZE);
  const n = getopt(fd, SOL_TCP, TCP_INFO, info);
  const [local, peer] = [nameOf(fd, false), nameOf(fd, true)];
  // closed (getpeername: ENOTCONN): its last figures were taken before
  if (n === undefined || !open(local) || !open(peer)) return [];
  return [subflowOf(local, peer, decodeTcpInfo(info, 0, n))];
}

// --- the program ---------------------------------------------------------------------------------

function out(o: object): void {
  writeSync(1, `${JSON.stringify(o)}\n`);
}

function openSocket(host: string, proto: number): number {
  return sys('socket', () => libc().socket(isV6(host) ? AF_INET6 : AF_INET, SOCK_STREAM, proto) as number);
}

/** Listens on the wildcard address; the listener stays open for the whole transfer (joins). */
function accept(host: string, port: number, proto: number): number {
  const s = openSocket(host, proto);
  setInt(s, SOL_SOCKET, SO_REUSEADDR, 1);
  const sa = sockaddrOf('', port, isV6(host));
  sys(`bind *:${port}`, () => libc().bind(s, sa, sa.length) as number);
  sys('listen', () => libc().listen(s, 4) as number);
  out({ listening: port });
  return sys('accept', () => libc().accept(s, null, null) as number);
}

function connect(host: string, port: number, proto: number, src: string): number {
  const s = openSocket(host, proto);
  if (src) {
    const sa = sockaddrOf(src, 0, isV6(host));
    sys(`bind ${src}`, () => libc().bind(s, sa, sa.length) as number);
  }
  out({ connecting: true });
  // connect(2) gives up after SO_SNDTIMEO: 15 s, as the Python end did; sends then block freely
  setSndTimeout(s, 15);
  const sa = sockaddrOf(host, port, isV6(host));
  sys(`connect ${host}:${port}`, () => libc().connect(s, sa, sa.length) as number);
  setSndTimeout(s, 0);
  return s;
}

/** Waits up to `ms` for data (or the end) on `fd`. */
function readable(fd: number, ms: number): boolean {
  return ready(fd, POLLIN, ms);
}

/** Waits up to `ms` for `events` on `fd` (an error or hang-up counts: the next call reports it). */
function ready(fd: number, events: number, ms: number): boolean {
  const p = Buffer.alloc(8);
  p.writeInt32LE(fd, 0);
  p.writeInt16LE(events, 4);
  const r = libc().poll(p, 1, Math.max(0, Math.round(ms))) as number;
  return r > 0;
}

function sink(args: string[]): void {
  const [protoS, host = '', portS, intervalS, how, src] = args;
  const proto = Number(protoS);
  const port = Number(portS);
  const interval = Number(intervalS) * 1000;
  let c: number;
  if (how === 'connect') {
    c = connect(host, port, proto, src ?? '');
    out({ connected: true });
  } else c = accept(host, port, proto);
  const h = createHash('sha256');
  const buf = Buffer.alloc(262144);
  let n = 0;
  const t0 = performance.now();
  let next = t0 + interval;
  let last: KernelSubflow[] = [];
  for (;;) {
    if (readable(c, next - performance.now())) {
      const k = sys('recv', () => Number(libc().recv(c, buf, buf.length, 0)));
      if (k === 0) break;
      h.update(buf.subarray(0, k));
      n += k;
    }
    const now = performance.now();
    if (now >= next) {
      last = subflowsOf(c, proto);
      out({ t: (now - t0) / 1000, bytes: n, subflows: last });
      next += interval * (1 + Math.floor((now - next) / interval));
    }
  }
  // the subflows as they were at the end of the stream (closing ones keep their counters)
  const final = subflowsOf(c, proto);
  out({
    done: true,
    bytes: n,
    sha256: h.digest('hex'),
    seconds: (performance.now() - t0) / 1000,
    subflows: final.length > 0 ? final : last,
  });
  libc().close(c);
}

function send(args: string[]): void {
  const [protoS, host = '', portS, bytesS, durS, intervalS, src, how] = args;
  const proto = Number(protoS);
  const port = Number(portS);
  const nbytes = Number(bytesS);
  const dur = Number(durS) * 1000;
  const interval = Number(intervalS) * 1000;
  const s = how === 'listen' ? accept(host, port, proto) : connect(host, port, proto, src ?? '');
  const blk = randomBytes(1 << 20);
  const h = createHash('sha256');
  let n = 0;
  const t0 = performance.now();
  let next = t0 + interval;
  const end = dur > 0 ? t0 + dur : undefined;
  out({ connected: true });
  // Writes only what the socket takes without blocking (poll for room, then MSG_DONTWAIT), so a
  // timed run stops writing at its deadline even when the send buffer is full, and the hash
  // covers exactly the bytes the kernel accepted.
  for (;;) {
    if (nbytes > 0 && n >= nbytes) break;
    const now = performance.now();
    if (end !== undefined && now >= end) break;
    if (now >= next) {
      out({ t: (now - t0) / 1000, bytes: n, subflows: subflowsOf(s, proto) });
      next += interval * (1 + Math.floor((now - next) / interval));
    }
    const wait = Math.min(next, end ?? next) - performance.now();
    if (!ready(s, POLLOUT, Math.max(1, wait))) continue;
    const k = nbytes <= 0 ? 65536 : Math.min(65536, nbytes - n);
    const off = n % (blk.length - 65536);
    const r = Number(libc().send(s, blk.subarray(off, off + k), k, MSG_DONTWAIT | MSG_NOSIGNAL));
    if (r < 0) {
      const err = libc().koffi.errno();
      if (err === EAGAIN || err === EINTR) continue;
      throw new SysError(`send: ${libc().strerror(err) as string} (errno ${err})`);
    }
    h.update(blk.subarray(off, off + r));
    n += r;
  }
  const lastWrite = performance.now();
  sys('shutdown', () => libc().shutdown(s, SHUT_WR) as number);
  // until the peer closes too: then every byte was delivered and acknowledged
  const buf = Buffer.alloc(65536);
  let subflows = subflowsOf(s, proto);
  for (;;) {
    if (!readable(s, interval)) {
      subflows = subflowsOf(s, proto);
      continue;
    }
    if (sys('recv', () => Number(libc().recv(s, buf, buf.length, 0))) === 0) break;
  }
  const atEnd = subflowsOf(s, proto);
  out({
    done: true,
    bytes: n,
    sha256: h.digest('hex'),
    seconds: (performance.now() - t0) / 1000,
    sendSeconds: (lastWrite - t0) / 1000,
    subflows: atEnd.length > 0 ? atEnd : subflows,
  });
  libc().close(s);
}

/** `--kernel-traffic sink|send ARGS…`: runs one end; exit 1 with the reason on a failure. */
export function kernelTrafficMain(argv: string[]): void {
  const [mode, ...rest] = argv;
  try {
    if (mode === 'sink') sink(rest);
    else if (mode === 'send') send(rest);
    else {
      process.stderr.write('usage: agent.js --kernel-traffic sink|send PROTO HOST PORT ...\n');
      process.exit(2);
    }
    process.exit(0);
  } catch (e) {
    process.stderr.write(`kernel-traffic: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
