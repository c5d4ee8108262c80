/**
 * Traffic runs through the Linux kernel inside the nodes: `--stack kernel` opens MPTCP sockets
 * (IPPROTO_MPTCP = 262), `--stack tcp` plain TCP ones. Node cannot open IPPROTO_MPTCP sockets, so a
 * tiny Python 3 program (python3 is a host tool, run with `ip netns exec`) does both ends: the sink
 * hashes what it receives, the sender sends random bytes for a time or a byte count and hashes them;
 * both print JSON lines (progress per interval, then the result).
 *
 * Per-subflow figures come from `ss -tin` in both namespaces every interval: the kernel lists each
 * MPTCP subflow as a TCP socket with its bytes, cwnd and RTT. Path indices are given in the order the
 * sender's subflows appear.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RuntimeFailure } from '../errors';
import type { Lab } from '../lab';
import { labApplier, ScenarioScheduler } from '../scenario/scheduler';
import { DEFAULT_INTERVAL_MS, DEFAULT_RUN_MS, type RunSpec, resolveEndpoints } from './spec';
import type { LabRunOptions, LabRunOutput } from './ts';
import { type SubflowFigure, TimelineBuilder } from './timeline';
import { integrityOf, liveRunResult } from './util';

export const TRAFFIC_PY = String.raw`
import hashlib, json, os, socket, sys, time
def out(o):
    sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
mode, proto = sys.argv[1], int(sys.argv[2])
def fam(h): return socket.AF_INET6 if ":" in h else socket.AF_INET
if mode == "sink":
    host, port, interval = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    s = socket.socket(fam(host), socket.SOCK_STREAM, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(4)
    out({"listening": port})
    c, peer = s.accept()
    c.settimeout(interval)
    h = hashlib.sha256(); n = 0; t0 = time.monotonic(); nxt = t0 + interval
    while True:
        try:
            d = c.recv(262144)
            if not d: break
            h.update(d); n += len(d)
        except socket.timeout:
            pass
        now = time.monotonic()
        if now >= nxt:
            out({"t": now - t0, "bytes": n}); nxt += interval * (1 + int((now - nxt) / interval))
    out({"done": True, "bytes": n, "sha256": h.hexdigest(), "seconds": time.monotonic() - t0})
    c.close()
else:
    host, port, nbytes, dur, interval = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
    s = socket.socket(fam(host), socket.SOCK_STREAM, proto)
    if len(sys.argv) > 8 and sys.argv[8]: s.bind((sys.argv[8], 0))
    s.settimeout(15); s.connect((host, port)); s.settimeout(None)
    blk = os.urandom(1 << 20); h = hashlib.sha256(); n = 0
    t0 = time.monotonic(); nxt = t0 + interval; end = t0 + dur if dur > 0 else None
    out({"connected": True})
    while True:
        if nbytes > 0 and n >= nbytes: break
        now = time.monotonic()
        if end is not None and now >= end: break
        k = 65536 if nbytes <= 0 else min(65536, nbytes - n)
        off = n % (len(blk) - 65536)
        chunk = blk[off:off + k]
        s.sendall(chunk); h.update(chunk); n += k
        if now >= nxt:
            out({"t": now - t0, "bytes": n}); nxt += interval * (1 + int((now - nxt) / interval))
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    out({"done": True, "bytes": n, "sha256": h.hexdigest(), "seconds": time.monotonic() - t0})
`;

/** One socket line of `ss -tinH` (the state line and its info line joined). */
export interface SsSocket {
  local: string;
  peer: string;
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  cwnd?: number;
  rttMs?: number;
  mss?: number;
}

const num = (info: string, key: string): number | undefined => {
  const m = new RegExp(`(?:^|\\s)${key}:(\\d+(?:\\.\\d+)?)`).exec(info);
  return m ? Number(m[1]) : undefined;
};

/** Parses `ss -tinH` output: state lines each followed by an indented info line. */
export function parseSs(text: string): SsSocket[] {
  const out: SsSocket[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim() || /^\s/.test(line)) continue;
    const cols = line.trim().split(/\s+/);
    // State Recv-Q Send-Q Local:Port Peer:Port [Process]
    if (cols.length < 5) continue;
    const info = lines[i + 1] && /^\s/.test(lines[i + 1]!) ? lines[i + 1]! : '';
    const s: SsSocket = {
      local: normAddr(cols[3]!),
      peer: normAddr(cols[4]!),
      bytesSent: num(info, 'bytes_sent') ?? 0,
      bytesAcked: num(info, 'bytes_acked') ?? 0,
      bytesReceived: num(info, 'bytes_received') ?? 0,
    };
    const cwnd = num(info, 'cwnd');
    const mss = num(info, 'mss');
    const rtt = /(?:^|\s)rtt:(\d+(?:\.\d+)?)\//.exec(info);
    if (cwnd !== undefined) s.cwnd = mss !== undefined ? cwnd * mss : cwnd;
    if (mss !== undefined) s.mss = mss;
    if (rtt) s.rttMs = Number(rtt[1]);
    out.push(s);
  }
  return out;
}

/** "[::ffff:10.0.1.1]:5001" / "10.0.1.1%eth1:5001" → "10.0.1.1:5001". */
function normAddr(a: string): string {
  let s = a.replace(/%[^:\]]+/, '');
  const v6 = /^\[(.*)\]:(\d+|\*)$/.exec(s);
  if (v6) s = `${v6[1]!.replace(/^::ffff:/, '')}:${v6[2]}`;
  return s;
}

function pySpawn(netns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', netns, 'python3', '-u', '-c', TRAFFIC_PY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function ss(netns: string, filter: string): Promise<SsSocket[]> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', netns, 'ss', '-tinH', ...filter.split(' ')], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    p.on('close', () => resolve(parseSs(text)));
    p.on('error', () => resolve([]));
  });
}

interface PyLine {
  listening?: number;
  connected?: boolean;
  t?: number;
  bytes?: number;
  done?: boolean;
  sha256?: string;
  seconds?: number;
}

function lines(p: ChildProcess, on: (l: PyLine) => void): { stderr: () => string; exited: Promise<number> } {
  let err = '';
  p.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  if (p.stdout) {
    const rl = createInterface({ input: p.stdout });
    rl.on('line', (l) => {
      try {
        on(JSON.parse(l) as PyLine);
      } catch {
        // not ours
      }
    });
  }
  const exited = new Promise<number>((r) => p.on('close', (code) => r(code ?? -1)));
  return { stderr: () => err.trim().split('\n').slice(-3).join(' '), exited };
}

/** `--stack kernel` (MPTCP) or `--stack tcp` through the kernels of the two nodes. */
export async function runKernel(lab: Lab, spec: RunSpec, options: LabRunOptions = {}): Promise<LabRunOutput> {
  const { from, to, host, source } = resolveEndpoints(lab.model, spec);
  const proto = spec.stack === 'kernel' ? 262 : 0;
  const intervalMs = spec.intervalMs ?? DEFAULT_INTERVAL_MS;
  const timeMs = spec.bytes === undefined ? (spec.timeMs ?? DEFAULT_RUN_MS) : 0;
  const port = spec.port ?? 20000 + Math.floor(Math.random() * 20000);
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  if (spec.stack === 'kernel' && from.stack !== 'kernel')
    notes.push(
      `node '${from.name}' is not a stack: kernel node: its kernel has no MPTCP endpoints, so it opens one subflow`,
    );

  let sinkDone: PyLine | undefined;
  let sendDone: PyLine | undefined;
  let sinkBytes = 0;
  let listening!: () => void;
  const isListening = new Promise<void>((r) => {
    listening = r;
  });
  // the sink reports 4× per interval, so each timeline sample sees bytes at most a quarter interval old
  const sinkP = pySpawn(to.netns, ['sink', String(proto), host, String(port), String(intervalMs / 4000)]);
  const sinkIo = lines(sinkP, (l) => {
    if (l.listening) listening();
    if (l.done) sinkDone = l;
    else if (l.bytes !== undefined) sinkBytes = l.bytes;
  });
  const tl = new TimelineBuilder();
  const { apply, settle, close: closeApplier } = labApplier(lab, spec.events ?? []);
  const scheduler = new ScenarioScheduler(spec.events ?? [], apply, {
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  let sendP: ChildProcess | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const pathIdx = new Map<string, number>();
  const kill = () => {
    for (const p of [sinkP, sendP]) if (p && p.exitCode === null) p.kill('SIGKILL');
  };
  options.signal?.addEventListener('abort', kill);
  try {
    await Promise.race([
      isListening,
      sinkIo.exited.then(() => {
        throw new RuntimeFailure(`the sink on '${to.name}' failed: ${sinkIo.stderr() || 'exited'}`);
      }),
      new Promise((_, rej) =>
        setTimeout(() => rej(new RuntimeFailure('the sink did not start within 5 s')), 5000).unref(),
      ),
    ]);
    const t0 = performance.now();
    sendP = pySpawn(from.netns, [
      'send',
      String(proto),
      host,
      String(port),
      String(spec.bytes ?? 0),
      String(timeMs / 1000),
      String(intervalMs / 1000),
      source ?? '',
    ]);
    const sendIo = lines(sendP, (l) => {
      if (l.done) sendDone = l;
    });
    scheduler.start(t0);
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const [snd, rcv] = await Promise.all([
          ss(from.netns, `dport = :${port}`),
          ss(to.netns, `sport = :${port}`),
        ]);
        // the master subflow (from the source address to the destination) is path 1
        const master = (x: SsSocket) =>
          x.peer === `${host}:${port}` && (!source || x.local.startsWith(`${source}:`)) ? 0 : 1;
        snd.sort((x, y) => master(x) - master(y));
        const senderFigs: SubflowFigure[] = snd.map((s) => {
          const key = `${s.local}|${s.peer}`;
          if (!pathIdx.has(key)) pathIdx.set(key, pathIdx.size + 1);
          const f: SubflowFigure = {
            pathIndex: pathIdx.get(key)!,
            local: s.local,
            remote: s.peer,
            bytes: s.bytesAcked,
          };
          if (s.cwnd !== undefined) f.cwnd = s.cwnd;
          if (s.rttMs !== undefined) f.srttMs = s.rttMs;
          return f;
        });
        const sinkFigs: SubflowFigure[] = rcv.map((s) => ({
          pathIndex: pathIdx.get(`${s.peer}|${s.local}`) ?? 0,
          local: s.local,
          remote: s.peer,
          bytes: s.bytesReceived,
        }));
        const p = tl.sample((performance.now() - t0) / 1000, sinkBytes, sinkFigs, senderFigs);
        options.onPoint?.(p, tl.live());
      } finally {
        busy = false;
      }
    };
    ticker = setInterval(() => void tick(), intervalMs);
    const limitMs = (timeMs || 600_000) + 60_000;
    const [sinkCode, sendCode] = await Promise.race([
      Promise.all([sinkIo.exited, sendIo.exited]),
      new Promise<[number, number]>((r) =>
        setTimeout(() => {
          kill();
          r([-1, -1]);
        }, limitMs).unref(),
      ),
    ]);
    clearInterval(ticker);
    await scheduler.stop();
    await settle();
    const tEnd = performance.now();
    if (sinkDone?.bytes !== undefined) sinkBytes = sinkDone.bytes;
    const last = tl.points[tl.points.length - 1];
    if (!last || last.t < (tEnd - t0) / 1000 - intervalMs / 2000)
      options.onPoint?.(tl.sample((tEnd - t0) / 1000, sinkBytes, [], []), tl.live());
    let integrity: string;
    if (options.signal?.aborted) integrity = 'interrupted';
    else if (!sendDone) integrity = `sender failed (exit ${sendCode}): ${sendIo.stderr() || 'no result'}`;
    else if (!sinkDone) integrity = `receiver failed (exit ${sinkCode}): ${sinkIo.stderr() || 'no result'}`;
    else
      integrity = integrityOf(
        { bytes: sendDone.bytes ?? 0, sha256: sendDone.sha256 ?? '' },
        { bytes: sinkDone.bytes ?? 0, sha256: sinkDone.sha256 ?? '' },
      );
    const seconds = sinkDone?.seconds ?? (tEnd - t0) / 1000;
    const bytes = sinkDone?.bytes ?? sinkBytes;
    const result = await liveRunResult(
      lab,
      spec,
      spec.stack,
      { bytes, seconds, integrity },
      tl,
      scheduler.applied,
      startedAt,
    );
    if (integrity === 'ok' && sinkDone?.sha256) result.sha256 = sinkDone.sha256;
    for (const e of scheduler.errors) notes.push(`event failed: ${e}`);
    if (notes.length > 0) result.notes = notes;
    return { result, reports: [] };
  } finally {
    if (ticker) clearInterval(ticker);
    options.signal?.removeEventListener('abort', kill);
    kill();
    await scheduler.stop();
    closeApplier();
  }
}
