/**
 * The few libc calls the emulator needs, through koffi (no compiler, no helper process): TAP
 * creation (open /dev/net/tun + TUNSETIFF) inside a namespace (the runtime's withNetns),
 * non-blocking read/write, epoll with a nanosecond timeout (epoll_pwait2) and an eventfd to wake the
 * data plane. Linux x86-64 and aarch64 (the ioctl numbers are the generic ones; struct epoll_event
 * is packed on x86-64 only).
 */
import koffi from 'koffi';
import { withNetns } from '../../stack/runtime/tun-device';

const libc = koffi.load('libc.so.6');

export const sys = {
  open: libc.func('int open(const char *path, int flags)'),
  close: libc.func('int close(int fd)'),
  read: libc.func('long read(int fd, void *buf, unsigned long n)'),
  write: libc.func('long write(int fd, void *buf, unsigned long n)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long req, void *arg)'),
  epollCreate1: libc.func('int epoll_create1(int flags)'),
  epollCtl: libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
  epollPwait2: libc.func(
    'int epoll_pwait2(int epfd, void *events, int maxevents, void *timeout, void *sigmask)',
  ),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  schedSetscheduler: libc.func('int sched_setscheduler(int pid, int policy, void *param)'),
};

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const TUNSETIFF = 0x400454ca;
export const TUNSETCARRIER = 0x400454e2;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLLIN = 0x001;
export const EFD_NONBLOCK = 0o4000;
export const EFD_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;
/** sizeof(struct epoll_event): packed (12) on x86-64, naturally aligned (16) elsewhere. */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
export const EPOLL_DATA_OFFSET = process.arch === 'x64' ? 4 : 8;

export function errno(): number {
  return koffi.errno();
}

export function sysError(what: string, err = koffi.errno()): Error {
  const e = new Error(`${what}: ${sys.strerror(err) as string} (errno ${err})`) as Error & { errno: number };
  e.errno = err;
  return e;
}

/**
 * Runs `fn` with the calling thread inside namespace `netns` (an `ip netns` name or an absolute path
 * such as /proc/PID/ns/net; null = stay), then switches back: the runtime's withNetns. setns(2) only
 * moves the calling thread; a child spawned synchronously meanwhile starts there too.
 */
export function inNetns<T>(netns: string | null, fn: () => T): T {
  return withNetns(netns ?? undefined, fn);
}

/**
 * Creates a TAP device named `ifname` inside namespace `netns` (null = this process's namespace)
 * and returns its non-blocking fd. The device lives as long as the fd (not persistent).
 */
export function createTap(netns: string | null, ifname: string): number {
  if (Buffer.byteLength(ifname) > 15) throw new Error(`interface name "${ifname}" longer than 15 bytes`);
  return inNetns(netns, () => {
    const fd = sys.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC) as number;
    if (fd < 0) throw sysError('open /dev/net/tun');
    const ifr = Buffer.alloc(40);
    ifr.write(ifname, 0, 'utf8');
    ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
    if ((sys.ioctl(fd, TUNSETIFF, ifr) as number) < 0) {
      const err = errno();
      sys.close(fd);
      throw sysError(`TUNSETIFF ${ifname}${netns ? ` in ${netns}` : ''}`, err);
    }
    return fd;
  });
}

export const SCHED_FIFO = 1;

/**
 * Puts the calling thread in SCHED_FIFO at `priority` (1–99) so frame release times hold on a busy
 * machine. Returns an error message instead of throwing when not permitted.
 */
export function setRealtime(priority: number, tid = 0): string | null {
  const p = Buffer.alloc(4);
  p.writeInt32LE(priority);
  if ((sys.schedSetscheduler(tid, SCHED_FIFO, p) as number) < 0)
    return sysError('sched_setscheduler').message;
  return null;
}

/** Sets a TAP's carrier (the node sees NO-CARRIER while off). */
export function setCarrier(fd: number, on: boolean): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(on ? 1 : 0);
  if ((sys.ioctl(fd, TUNSETCARRIER, v) as number) < 0) throw sysError('TUNSETCARRIER');
}
