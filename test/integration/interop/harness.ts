/**
 * Interoperability harness: our stack (in this process, on a TUN phy inside namespace `ts`) and the
 * Linux kernel's MPTCP (a python3 IPPROTO_MPTCP socket run with `ip netns exec` in namespace `k`),
 * joined by one or two veth links. Every run is captured on the links (dumpcap in `k`) and dissected
 * by tshark with MPTCP analysis.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { CoreEvent, NetCore, Packet } from '../../../stack/core/contract';
import { createCore } from '../../../stack/runtime/core-factory';
import { Driver } from '../../../stack/runtime/driver';
import { TunPhy, tunMss } from '../../../stack/runtime/tun-phy';
import { type KnobValue, Sysctl } from '../../../stack/sysctl';
import { createNetns, ipBatch } from '../../helpers/netns';

export * from './dissect';

export const hasMptcpPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import socket; assert socket.IPPROTO_MPTCP == 262'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export interface Pair {
  ts: string;
  k: string;
  /** Our stack's addresses (link 1, link 2). */
  a: string[];
  /** The kernel node's addresses (link 1, link 2). */
  b: string[];
  /** Interface names: ours in `ts`, the kernel's in `k`, per link. */
  tsIf: string[];
  kIf: string[];
  v6: boolean;
}

let netCounter = 0;

/** Two namespaces joined by `links` veth pairs, addressed 10.<n>.<link>.1 (ours) / .2 (kernel). */
export function makePair(t: string, options: { links?: number; v6?: boolean } = {}): Pair {
  const links = options.links ?? 2;
  const v6 = options.v6 ?? false;
  const ts = createNetns('ts', t);
  const k = createNetns('k', t);
  const n = 100 + ((process.pid + netCounter++) % 100);
  const pair: Pair = { ts, k, a: [], b: [], tsIf: [], kIf: [], v6 };
  const top: string[] = [];
  const tsLines: string[] = [];
  const kLines: string[] = [];
  for (let i = 1; i <= links; i++) {
    const ti = `t${t}a${i}`;
    const ki = `t${t}b${i}`;
    top.push(`link add ${ti} netns ${ts} type veth peer name ${ki} netns ${k}`);
    const a = v6 ? `fd${n.toString(16)}:${i}::1` : `10.${n}.${i}.1`;
    const b = v6 ? `fd${n.toString(16)}:${i}::2` : `10.${n}.${i}.2`;
    const plen = v6 ? 64 : 24;
    tsLines.push(`addr add ${a}/${plen} dev ${ti}${v6 ? ' nodad' : ''}`, `link set ${ti} up`);
    kLines.push(`addr add ${b}/${plen} dev ${ki}${v6 ? ' nodad' : ''}`, `link set ${ki} up`);
    pair.a.push(a);
    pair.b.push(b);
    pair.tsIf.push(ti);
    pair.kIf.push(ki);
  }
  ipBatch(null, top);
  ipBatch(ts, tsLines);
  ipBatch(k, kLines);
  // No offloads on either side: the capture then shows segments as they are on the wire (with TSO
  // the kernel's segments would be captured before segmentation). Without ethtool the capture still
  // dissects (tshark handles large segments); it is only less faithful.
  const noOffload = (ns: string, ifname: string) => {
    try {
      execFileSync(
        'ip',
        ['netns', 'exec', ns, 'ethtool', '-K', ifname, 'tso', 'off', 'gso', 'off', 'gro', 'off'],
        {
          stdio: 'ignore',
        },
      );
    } catch {
      // ethtool missing: see above
    }
  };
  for (const ki of pair.kIf) noOffload(k, ki);
  for (const ti of pair.tsIf) noOffload(ts, ti);
  return pair;
}

/** Configures the kernel node's MPTCP: sysctls, limits, endpoints (each line without `ip mptcp`). */
export function kernelSetup(pair: Pair, sysctls: string[], mptcpLines: string[]): void {
  if (sysctls.length > 0)
    execFileSync('ip', ['netns', 'exec', pair.k, 'sysctl', '-q', '-w', ...sysctls], { stdio: 'ignore' });
  ipBatch(pair.k, ['mptcp endpoint flush', ...mptcpLines.map((l) => `mptcp ${l}`)]);
}

// ---------------------------------------------------------------------------------------------
// Our stack

export interface OurStack {
  core: NetCore;
  driver: Driver;
  phy: TunPhy;
  /** RST segments our stack itself sent (to tell them from a kernel's RST on the wire). */
  rstsSent: number;
  /** Segments the core dropped (undecodable, bad checksum). */
  dropped: () => number;
  /** Events by connection id go to the handler registered for them (or to onAccept). */
  handlers: Map<number, (e: CoreEvent) => void>;
  onAccept: ((conn: number) => void) | undefined;
  close(): Promise<void>;
}

export async function startOurStack(
  pair: Pair,
  options: { knobs?: Record<string, KnobValue>; follow?: boolean } = {},
): Promise<OurStack> {
  const sysctl = new Sysctl(options.knobs);
  const phy = new TunPhy({
    netns: pair.ts,
    addresses: options.follow ? undefined : pair.a,
    pollMs: 100,
  });
  const built = createCore({ sysctl, tcb: { mss: tunMss(1500, pair.v6 ? 6 : 4) } });
  const core = built.core;
  const driver = new Driver(core, phy);
  const s: OurStack = {
    core,
    driver,
    phy,
    rstsSent: 0,
    dropped: built.dropped ?? (() => 0),
    handlers: new Map(),
    onAccept: undefined,
    async close() {
      driver.stop();
      await phy.close();
    },
  };
  driver.tap = (p: Packet, dir) => {
    if (dir === 'out' && (p.data[13]! & 0x04) !== 0) s.rstsSent++;
  };
  driver.onEvents = (events) => {
    for (const e of events) {
      if (e.type === 'accepted') {
        s.onAccept?.(e.conn);
        continue;
      }
      s.handlers.get(e.conn)?.(e);
    }
  };
  phy.onPacket = (p) => driver.receive(p);
  phy.onAddresses = (addrs) => {
    core.setAddresses(addrs, driver.now());
    driver.kick();
  };
  const addrs = await phy.start();
  core.setAddresses(addrs, driver.now());
  return s;
}

export interface Transfer {
  received: number;
  sha256: string;
  /** Text the peer sent back (the kernel's digest reply), when the app reads a reply. */
  reply: string;
  mode: 'mptcp' | 'tcp' | undefined;
  /** Most subflows seen at once in connStats() while the connection ran. */
  maxSubflows: number;
  error?: string;
}

/**
 * Runs an application on connection `conn` of our stack: sends `data` (then DATA_FIN unless
 * `endAfterReply`), hashes what arrives, optionally answers the peer's end with its own digest.
 */
export function ourApp(
  s: OurStack,
  conn: number,
  opts: {
    data?: Uint8Array;
    replyDigest?: boolean;
    endWhenSent?: boolean;
    timeoutMs?: number;
    /** Write (and end) at once, before the connection is established (node:net allows it). */
    early?: boolean;
  },
): Promise<Transfer> {
  const { core, driver } = s;
  const data = opts.data ?? new Uint8Array(0);
  const h = createHash('sha256');
  let sent = 0;
  let received = 0;
  let ended = false;
  const replyChunks: Buffer[] = [];
  const t: Transfer = { received: 0, sha256: '', reply: '', mode: undefined, maxSubflows: 0 };
  return new Promise<Transfer>((resolve) => {
    const sampler = setInterval(() => {
      const st = core.connStats().find((c) => c.conn === conn);
      if (st) {
        t.mode = st.mode;
        const live = st.subflows.filter((x) => /ESTAB/i.test(x.state)).length;
        if (live > t.maxSubflows) t.maxSubflows = live;
      }
    }, 20);
    const timer = setTimeout(() => {
      const st = core.connStats().find((c) => c.conn === conn);
      finish(`timeout: sent ${sent}/${data.length}, received ${received}, state ${JSON.stringify(st)}`);
    }, opts.timeoutMs ?? 20_000);
    const finish = (error?: string) => {
      clearInterval(sampler);
      clearTimeout(timer);
      s.handlers.delete(conn);
      t.received = received;
      t.sha256 = h.digest('hex');
      t.reply = Buffer.concat(replyChunks).toString();
      if (error) t.error = error;
      resolve(t);
    };
    const pump = () => {
      while (sent < data.length) {
        const n = core.write(conn, data.subarray(sent, Math.min(data.length, sent + 65536)), driver.now());
        if (n <= 0) return;
        sent += n;
      }
      if (!ended && opts.endWhenSent !== false) {
        ended = true;
        core.end(conn, driver.now());
      }
    };
    s.handlers.set(conn, (e) => {
      switch (e.type) {
        case 'connected':
          t.mode = core.info(conn)?.mode;
          pump();
          break;
        case 'writable':
          pump();
          break;
        case 'data':
          received += e.data.length;
          h.update(e.data);
          replyChunks.push(Buffer.from(e.data.subarray(0, Math.min(e.data.length, 200))));
          core.consumed(conn, e.data.length, driver.now());
          break;
        case 'end':
          if (opts.replyDigest) {
            // Our digest of what arrived, then our DATA_FIN.
            core.write(conn, new TextEncoder().encode(h.copy().digest('hex')), driver.now());
            if (!ended) {
              ended = true;
              core.end(conn, driver.now());
            }
          } else if (!ended && opts.endWhenSent === false) {
            ended = true;
            core.end(conn, driver.now());
          }
          break;
        case 'closed':
          finish(e.error ? `${e.error.code}: ${e.error.message}` : undefined);
          break;
      }
      driver.kick();
    });
    if (opts.early) pump();
    driver.kick();
  });
}

// ---------------------------------------------------------------------------------------------
// The kernel's side

/**
 * The kernel's application: `server` or `client`; `sink` receives until EOF, then sends back the
 * digest of what it got and closes; `source` sends N random bytes, shuts down its sending side
 * (DATA_FIN from the kernel) and reads until EOF. It prints JSON lines; MPTCP_INFO is sampled while
 * data flows (subflows, add_addr_signal, add_addr_accepted, csum_enabled).
 */
export const KERNEL_PY = String.raw`
import hashlib, json, os, socket, sys, time
role, host, port, mode, n, proto = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
def out(o): sys.stdout.write(json.dumps(o) + "\n"); sys.stdout.flush()
info = {"subflows": 0, "add_addr_signal": 0, "add_addr_accepted": 0, "csum": 0}
def sample(c):
    if proto != 262: return
    try:
        b = c.getsockopt(284, 1, 64)
        info["subflows"] = max(info["subflows"], b[0]); info["add_addr_signal"] = max(info["add_addr_signal"], b[1])
        info["add_addr_accepted"] = max(info["add_addr_accepted"], b[2]); info["csum"] = b[42]
    except OSError as e:
        info["err"] = str(e)
if role == "server":
    s = socket.socket(fam, socket.SOCK_STREAM, proto)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(4); out({"ready": True})
    c, peer = s.accept()
else:
    c = socket.socket(fam, socket.SOCK_STREAM, proto)
    c.connect((host, port))
out({"connected": True})
h = hashlib.sha256(); got = 0; t0 = time.monotonic(); last = 0
if mode == "sink":
    while True:
        d = c.recv(262144)
        if not d: break
        h.update(d); got += len(d)
        if time.monotonic() - last > 0.05: sample(c); last = time.monotonic()
    sample(c)
    c.sendall(h.hexdigest().encode())
    c.close()
    out({"done": True, "bytes": got, "sha256": h.hexdigest(), "info": info})
else:
    blk = os.urandom(n); sent = 0
    while sent < n:
        k = c.send(blk[sent:sent + 65536]); sent += k
        if time.monotonic() - last > 0.05: sample(c); last = time.monotonic()
    h.update(blk); sample(c)
    c.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = c.recv(65536)
        if not d: break
        reply += d
    c.close()
    out({"done": True, "bytes": sent, "sha256": h.hexdigest(), "reply": reply.decode(errors="replace"), "info": info})
`;

export interface KernelResult {
  done: boolean;
  bytes: number;
  sha256: string;
  reply?: string;
  info: { subflows: number; add_addr_signal: number; add_addr_accepted: number; csum: number; err?: string };
}

export interface KernelApp {
  proc: ChildProcess;
  ready: Promise<void>;
  result: Promise<KernelResult>;
  stderr: () => string;
}

export function kernelApp(
  pair: Pair,
  role: 'server' | 'client',
  host: string,
  port: number,
  mode: 'sink' | 'source',
  bytes: number,
  proto = 262,
): KernelApp {
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      pair.k,
      'python3',
      '-c',
      KERNEL_PY,
      role,
      host,
      String(port),
      mode,
      String(bytes),
      String(proto),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  let onReady: () => void = () => {};
  let onFail: (e: Error) => void = () => {};
  const ready = new Promise<void>((r, j) => {
    onReady = r;
    onFail = j;
  });
  const result = new Promise<KernelResult>((resolve, reject) => {
    let last: KernelResult | undefined;
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.ready || o.connected) onReady();
      if (o.done) last = o as unknown as KernelResult;
    });
    proc.on('exit', (code) => {
      if (last) resolve(last);
      else {
        const e = new Error(`kernel app exited ${code}: ${err.trim()}`);
        onFail(e);
        reject(e);
      }
    });
  });
  result.catch(() => {});
  ready.catch(() => {});
  return { proc, ready, result, stderr: () => err };
}

export function randomPayload(n: number): { data: Uint8Array; sha256: string } {
  const data = randomBytes(n);
  return { data, sha256: createHash('sha256').update(data).digest('hex') };
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function kernelVersion(): string {
  return execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
}

/** Rate-limits every link end (tbf), so a transfer lasts long enough for mid-transfer events. */
export function shape(pair: Pair, rate: string): void {
  for (const [ns, ifs] of [
    [pair.ts, pair.tsIf],
    [pair.k, pair.kIf],
  ] as const)
    ipBatchTc(
      ns,
      ifs.map((i) => `qdisc replace dev ${i} root tbf rate ${rate} burst 32kb latency 100ms`),
    );
}

function ipBatchTc(ns: string, lines: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, 'tc', '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

/** Takes link `i` (0-based) down at the kernel's end: both ends lose carrier. */
export function linkDown(pair: Pair, i: number): void {
  ipBatch(pair.k, [`link set ${pair.kIf[i]} down`]);
}
