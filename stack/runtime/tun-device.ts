/**
 * A TUN device through /dev/net/tun, from Node, with no helper process and no addon: koffi calls
 * libc directly (open, ioctl TUNSETIFF with IFF_TUN | IFF_NO_PI, read, write, poll, eventfd).
 *
 * Reading without blocking the event loop: the fd is non-blocking; one `poll(2)` on [tun, wake
 * eventfd] runs as a koffi async call on a worker thread and returns when the device has a packet.
 * The main thread then drains the device with plain synchronous `read(2)` calls (one packet each,
 * ~1 µs through koffi) until EAGAIN or a batch limit, hands the batch over and re-arms the poll. So
 * one thread hop serves a whole burst, and a busy device is read at the cost of the reads alone.
 * `close()` writes the eventfd, which ends the pending poll at once.
 *
 * Writing is a synchronous `write(2)` per packet: a TUN write injects the packet into the kernel's
 * receive path and never blocks.
 *
 * The device is created in a network namespace given by name (`ip netns`) or path, by switching
 * the calling thread there (setns) for the open+ioctl only: the fd stays bound to that namespace's
 * device afterwards. (lab/emulator/sys.ts has the same calls for TAP; it could reuse this file.)
 */
import { type KoffiModule, type LibcFn as Fn, loadLibc } from './libc';

interface Sys {
  koffi: KoffiModule;
  open: Fn;
  close: Fn;
  read: Fn;
  write: Fn;
  ioctl: Fn;
  setns: Fn;
  poll: Fn;
  eventfd: Fn;
  strerror: Fn;
}

let loaded: Sys | undefined;

/** The calls this file makes, declared once. */
function libc(): Sys {
  if (loaded) return loaded;
  const { koffi, lib } = loadLibc('the TUN phy');
  loaded = {
    koffi,
    open: lib.func('int open(const char *path, int flags)'),
    close: lib.func('int close(int fd)'),
    read: lib.func('long read(int fd, void *buf, unsigned long n)'),
    write: lib.func('long write(int fd, void *buf, unsigned long n)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long req, void *arg)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    strerror: lib.func('const char *strerror(int errnum)'),
  };
  return loaded;
}

const O_RDONLY = 0;
const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const POLLIN = 0x001;
export const EAGAIN = 11;
const EINTR = 4;

export function tunErrno(): number {
  return libc().koffi.errno();
}

export function tunSysError(what: string, err = tunErrno()): Error & { errno: number } {
  const e = new Error(`${what}: ${libc().strerror(err) as string} (errno ${err})`) as Error & {
    errno: number;
  };
  e.errno = err;
  return e;
}

/** Runs `fn` with the calling thread in network namespace `netns` (a name or a path), then back. */
export function withNetns<T>(netns: string | undefined, fn: () => T): T {
  if (!netns) return fn();
  const sys = libc();
  const path = netns.startsWith('/') ? netns : `/run/netns/${netns}`;
  const self = sys.open('/proc/thread-self/ns/net', O_RDONLY | O_CLOEXEC) as number;
  if (self < 0) throw tunSysError('open /proc/thread-self/ns/net');
  const target = sys.open(path, O_RDONLY | O_CLOEXEC) as number;
  if (target < 0) {
    const err = tunErrno();
    sys.close(self);
    throw tunSysError(`open namespace ${netns}`, err);
  }
  if ((sys.setns(target, CLONE_NEWNET) as number) < 0) {
    const err = tunErrno();
    sys.close(self);
    sys.close(target);
    throw tunSysError(`setns ${netns}`, err);
  }
  try {
    return fn();
  } finally {
    const back = sys.setns(self, CLONE_NEWNET) as number;
    const err = back < 0 ? tunErrno() : 0;
    sys.close(self);
    sys.close(target);
    // Staying in the wrong namespace would silently misplace everything after: die loudly.
    if (err !== 0) {
      process.stderr.write(`tun: cannot return to the original network namespace (errno ${err})\n`);
      process.exit(70);
    }
  }
}

export interface TunCounters {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  writeErrors: number;
  /** Poll wake-ups that found packets (each followed by a synchronous drain). */
  wakeups: number;
  /** Drains that stopped at the batch limit rather than at EAGAIN. */
  fullBatches: number;
}

export interface TunDeviceOptions {
  /** Interface name (≤ 15 bytes); the kernel picks one (tunN) when absent or ending in %d. */
  name?: string;
  /** Network namespace to create the device in (ip netns name or /proc/PID/ns/net path). */
  netns?: string;
  /** Largest packet read (bytes). Default 65535. */
  maxPacket?: number;
  /** Packets read per drain before yielding to the event loop. Default 256. */
  batch?: number;
}

/**
 * An open TUN device (IFF_TUN | IFF_NO_PI: each read or write is one whole IPv4/IPv6 packet). The
 * device exists while this object is open (not persistent): closing it removes the interface, its
 * addresses and routes.
 */
export class TunDevice {
  readonly name: string;
  readonly fd: number;
  readonly counters: TunCounters = {
    packetsIn: 0,
    bytesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    writeErrors: 0,
    wakeups: 0,
    fullBatches: 0,
  };
  /** Receives each batch of packets read (each in a buffer of its own, owned by the receiver). */
  onPackets: ((packets: Uint8Array[]) => void) | undefined;
  onError: ((err: Error) => void) | undefined;

  private readonly sys: Sys;
  private readonly wakeFd: number;
  private readonly pollSet: Buffer;
  private readonly maxPacket: number;
  private readonly batch: number;
  private readonly scratch: Buffer;
  private polling = false;
  private reading = false;
  private closed = false;
  private closeWaiters: (() => void)[] = [];
  private readonly boundPolled = this.polled.bind(this);

  constructor(options: TunDeviceOptions = {}) {
    const want = options.name ?? '';
    if (Buffer.byteLength(want) > 15) throw new Error(`interface name "${want}" longer than 15 bytes`);
    this.maxPacket = options.maxPacket ?? 65535;
    this.batch = options.batch ?? 256;
    const sys = libc();
    this.sys = sys;
    const { fd, name } = withNetns(options.netns, () => {
      const fd = sys.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC) as number;
      if (fd < 0) throw tunSysError('open /dev/net/tun');
      const ifr = Buffer.alloc(40);
      ifr.write(want, 0, 'utf8');
      ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, 16);
      if ((sys.ioctl(fd, TUNSETIFF, ifr) as number) < 0) {
        const err = tunErrno();
        sys.close(fd);
        throw tunSysError(`TUNSETIFF ${want || '(auto)'}${options.netns ? ` in ${options.netns}` : ''}`, err);
      }
      const end = ifr.indexOf(0);
      return { fd, name: ifr.toString('utf8', 0, end < 0 || end > 16 ? 16 : end) };
    });
    this.fd = fd;
    this.name = name;
    const wake = sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) as number;
    if (wake < 0) {
      const err = tunErrno();
      sys.close(fd);
      throw tunSysError('eventfd', err);
    }
    this.wakeFd = wake;
    // struct pollfd { int fd; short events; short revents; } x 2
    this.pollSet = Buffer.alloc(16);
    this.pollSet.writeInt32LE(fd, 0);
    this.pollSet.writeInt16LE(POLLIN, 4);
    this.pollSet.writeInt32LE(wake, 8);
    this.pollSet.writeInt16LE(POLLIN, 12);
    this.scratch = Buffer.allocUnsafeSlow(this.maxPacket);
  }

  /** Starts reading: `onPackets` is called with each drained batch. */
  start(): void {
    if (this.reading || this.closed) return;
    this.reading = true;
    // Packets may already be queued: drain first, then wait.
    this.drain();
    this.arm();
  }

  /** Writes one whole IP packet (`len` bytes of `buf`). Returns false on error (counted). */
  write(buf: Uint8Array, len = buf.length): boolean {
    if (this.closed) return false;
    const n = this.sys.write(this.fd, buf, len) as number;
    if (n < 0) {
      this.counters.writeErrors++;
      return false;
    }
    this.counters.packetsOut++;
    this.counters.bytesOut += len;
    return true;
  }

  /** Reads whatever is queued now, synchronously (at most one batch); returns the packets. */
  readNow(): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.readInto(out);
    return out;
  }

  /** Closes the device (the interface disappears); resolves once the pending poll has ended. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.reading = false;
    if (!this.polling) {
      this.release();
      return Promise.resolve();
    }
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    this.sys.write(this.wakeFd, one, 8);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  private release(): void {
    this.sys.close(this.fd);
    this.sys.close(this.wakeFd);
    const w = this.closeWaiters;
    this.closeWaiters = [];
    for (const r of w) r();
  }

  private arm(): void {
    if (this.polling || !this.reading || this.closed) return;
    this.polling = true;
    // revents are written by the kernel; clear them first. A 1 s timeout bounds a lost wake-up.
    this.pollSet.writeInt16LE(0, 6);
    this.pollSet.writeInt16LE(0, 14);
    this.sys.poll.async(this.pollSet, 2, 1000, this.boundPolled);
  }

  private polled(err: unknown, _n: number): void {
    this.polling = false;
    if (this.closed) {
      this.release();
      return;
    }
    if (err) this.onError?.(err instanceof Error ? err : new Error(String(err)));
    if (this.pollSet.readInt16LE(6) !== 0) {
      this.counters.wakeups++;
      this.drain();
    }
    this.arm();
  }

  private drain(): void {
    if (this.closed) return;
    const out: Uint8Array[] = [];
    this.readInto(out);
    if (out.length > 0) this.onPackets?.(out);
  }

  private readInto(out: Uint8Array[]): void {
    const max = this.maxPacket;
    const c = this.counters;
    const scratch = this.scratch;
    for (let i = 0; i < this.batch; i++) {
      const n = this.sys.read(this.fd, scratch, max) as number;
      if (n < 0) {
        const e = tunErrno();
        if (e !== EAGAIN && e !== EINTR) {
          // The device is gone or broken: stop reading rather than spin on a poll that never blocks.
          this.reading = false;
          this.onError?.(tunSysError(`read ${this.name}`, e));
        }
        return;
      }
      if (n === 0) return;
      c.packetsIn++;
      c.bytesIn += n;
      // Copied out of the scratch buffer into a buffer of its own size (small ones come from
      // Node's 8 KiB pool): a packet the core keeps (reassembly) pins only that, not a large slab.
      const pkt = Buffer.allocUnsafe(n);
      scratch.copy(pkt, 0, 0, n);
      out.push(pkt);
    }
    c.fullBatches++;
  }
}
