/**
 * The data plane: runs in a worker thread, in a synchronous loop that never returns to the event
 * loop while running. One epoll set holds every TAP fd and a wake-up eventfd; the epoll_pwait2
 * timeout is the next due time of the forwarder's heap (ns resolution), so one "timer" serves all
 * links. Each wake-up drains readable TAPs (bounded batch per fd), then delivers what is due.
 * Control messages from the main thread arrive on the worker port and are picked up synchronously
 * (receiveMessageOnPort) when the eventfd fires.
 */
import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { Forwarder } from './forwarder';
import {
  EAGAIN,
  EINTR,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLIN,
  errno,
  setCarrier,
  setRealtime,
  sys,
  sysError,
} from './sys';
import type { DirStats, EmulatorStats, EmuDirParams, EmuLinkConfig, LinkStats } from './types';

export interface DataplaneInit {
  links: EmuLinkConfig[];
  /** [aFd, bFd] per link, in the order of `links`. */
  fds: [number, number][];
  wakeFd: number;
  seed: number;
  carrier: boolean;
  rtPriority: number;
  /** Bytes per frame buffer (≥ largest MTU + Ethernet header). */
  slotSize: number;
}

export type DataplaneRequest =
  | {
      rid: number;
      cmd: 'set';
      link: string;
      dir: 'ab' | 'ba' | 'both';
      params: EmuDirParams;
      replace: boolean;
    }
  | { rid: number; cmd: 'up' | 'down'; link: string }
  | { rid: number; cmd: 'stats'; link?: string }
  | { rid: number; cmd: 'stop' };

export type DataplaneReply =
  | { rid: number; ok: true; result?: unknown }
  | { rid: number; ok: false; error: string };

const WAKE = 0xffffffff;
const MAX_EVENTS = 64;
/** Frames read from one fd per wake-up before looking at the others (fairness, bounded latency). */
const BATCH = 64;

export function runDataplane(init: DataplaneInit, port: MessagePort): void {
  const { links, fds, slotSize } = init;
  if (init.rtPriority > 0) {
    const err = setRealtime(init.rtPriority);
    if (err) console.log(`data plane: no real-time priority (${err}); release times may slip under load`);
  }
  const t0 = performance.now();
  const pool: Buffer[] = [];
  const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(slotSize);
  // Direction d: link d >> 1; even = a→b (read a, write b), odd = b→a.
  const inFd: number[] = [];
  const outFd: number[] = [];
  const fw = new Forwarder<Buffer>(
    {
      deliver(dir, frame, len) {
        if ((sys.write(outFd[dir]!, frame, len) as number) < 0) fw.dirs[dir]!.writeFailed(len);
      },
      free(frame) {
        pool.push(frame);
      },
      copy(frame, len) {
        const c = take();
        frame.copy(c, 0, 0, len);
        return c;
      },
    },
    init.seed,
  );
  const now0 = performance.now();
  const ids = new Map<string, number>();
  links.forEach((l, i) => {
    ids.set(l.id, i);
    const [a, b] = fds[i]!;
    fw.addDir(l.ab, now0, `link/${l.id}/ab`);
    fw.addDir(l.ba, now0, `link/${l.id}/ba`);
    inFd.push(a, b);
    outFd.push(b, a);
    const up = l.up !== false;
    fw.dirs[2 * i]!.up = up;
    fw.dirs[2 * i + 1]!.up = up;
  });

  const ep = sys.epollCreate1(0o2000000) as number;
  if (ep < 0) throw sysError('epoll_create1');
  const ev = Buffer.alloc(EPOLL_EVENT_SIZE);
  const add = (fd: number, data: number): void => {
    ev.fill(0);
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeUInt32LE(data, EPOLL_DATA_OFFSET);
    if ((sys.epollCtl(ep, EPOLL_CTL_ADD, fd, ev) as number) < 0) throw sysError('epoll_ctl');
  };
  for (let d = 0; d < inFd.length; d++) add(inFd[d]!, d);
  add(init.wakeFd, WAKE);

  const events = Buffer.alloc(EPOLL_EVENT_SIZE * MAX_EVENTS);
  const ts = Buffer.alloc(16);
  const eight = Buffer.alloc(8);
  let running = true;

  const linkIndex = (id: string): number => {
    const i = ids.get(id);
    if (i === undefined) throw new Error(`no emulated link "${id}" (have: ${[...ids.keys()].join(', ')})`);
    return i;
  };
  const setUp = (i: number, up: boolean): void => {
    fw.dirs[2 * i]!.up = up;
    fw.dirs[2 * i + 1]!.up = up;
    if (init.carrier) {
      const [a, b] = fds[i]!;
      setCarrier(a, up);
      setCarrier(b, up);
    }
  };
  const dirStats = (d: number, now: number): DirStats => {
    const p = fw.dirs[d]!;
    return { ...p.stats, queueBytes: p.backlog(now).bytes };
  };
  const handle = (m: DataplaneRequest): unknown => {
    const now = performance.now();
    switch (m.cmd) {
      case 'set': {
        const i = linkIndex(m.link);
        const dirs = m.dir === 'ab' ? [2 * i] : m.dir === 'ba' ? [2 * i + 1] : [2 * i, 2 * i + 1];
        for (const d of dirs) fw.dirs[d]!.set(m.params, now, m.replace);
        return { ab: fw.dirs[2 * i]!.params, ba: fw.dirs[2 * i + 1]!.params };
      }
      case 'up':
      case 'down':
        setUp(linkIndex(m.link), m.cmd === 'up');
        return undefined;
      case 'stats': {
        const out: LinkStats[] = [];
        links.forEach((l, i) => {
          if (m.link !== undefined && m.link !== l.id) return;
          out.push({
            id: l.id,
            up: fw.dirs[2 * i]!.up,
            ab: dirStats(2 * i, now),
            ba: dirStats(2 * i + 1, now),
            params: { ab: fw.dirs[2 * i]!.params, ba: fw.dirs[2 * i + 1]!.params },
          });
        });
        if (m.link !== undefined && out.length === 0) linkIndex(m.link);
        const r: EmulatorStats = {
          pid: process.pid,
          uptimeMs: now - t0,
          lateMaxMs: fw.lateMaxMs,
          lateCount: fw.lateCount,
          links: out,
        };
        return r;
      }
      case 'stop':
        running = false;
        return undefined;
    }
  };
  const control = (): void => {
    for (;;) {
      const msg = receiveMessageOnPort(port);
      if (!msg) return;
      const m = msg.message as DataplaneRequest;
      let reply: DataplaneReply;
      try {
        reply = { rid: m.rid, ok: true, result: handle(m) };
      } catch (e) {
        reply = { rid: m.rid, ok: false, error: (e as Error).message };
      }
      port.postMessage(reply);
    }
  };

  // Initial carrier state.
  links.forEach((l, i) => {
    if (l.up === false) setUp(i, false);
  });

  // Only now can frames flow: the main thread waits for this before it opens the control socket.
  port.postMessage({ rid: 0, ok: true, result: 'ready' } satisfies DataplaneReply);
  while (running) {
    const due = fw.nextDue();
    let timeout: Buffer | null = null;
    if (due !== Number.POSITIVE_INFINITY) {
      let wait = due - performance.now();
      if (wait < 0) wait = 0;
      const sec = Math.floor(wait / 1000);
      const nsec = Math.floor((wait - sec * 1000) * 1e6);
      ts.writeUInt32LE(sec, 0);
      ts.writeUInt32LE(0, 4);
      ts.writeUInt32LE(nsec, 8);
      ts.writeUInt32LE(0, 12);
      timeout = ts;
    }
    const n = sys.epollPwait2(ep, events, MAX_EVENTS, timeout, null) as number;
    if (n < 0) {
      if (errno() === EINTR) continue;
      throw sysError('epoll_pwait2');
    }
    let wake = false;
    for (let k = 0; k < n; k++) {
      const d = events.readUInt32LE(k * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET);
      if (d === WAKE) {
        sys.read(init.wakeFd, eight, 8);
        wake = true;
        continue;
      }
      const fd = inFd[d]!;
      const now = performance.now();
      for (let j = 0; j < BATCH; j++) {
        const buf = take();
        const len = sys.read(fd, buf, slotSize) as number;
        if (len <= 0) {
          pool.push(buf);
          const err = len < 0 ? errno() : 0;
          if (err !== EAGAIN && err !== EINTR) {
            // The device went away (deleted in its namespace): stop polling it, keep the others.
            sys.epollCtl(ep, EPOLL_CTL_DEL, fd, ev);
            try {
              setCarrier(outFd[d]!, false); // the other end sees the cable cut
            } catch {
              // that end is gone too
            }
            const l = links[d >> 1]!;
            console.log(
              `data plane: ${l.id} ${d & 1 ? 'b' : 'a'} end (${(d & 1 ? l.b : l.a).ifname}) unreadable: ${sysError('read', err).message}; direction stopped`,
            );
          }
          break;
        }
        if (!fw.input(d, buf, len, now)) pool.push(buf);
      }
    }
    fw.poll(performance.now());
    if (wake) control();
  }
  sys.close(ep);
}
