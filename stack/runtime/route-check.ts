/**
 * Route checks for the phys: does the host's routing (policy rules included) have a route from a
 * local address to a destination? The TUN phy hands whole IP packets to the kernel, which forwards
 * them; when it has no route it answers with an ICMP error addressed to our own address, which the
 * kernel consumes itself (only TCP is steered into the device). So before the first SYN on an
 * address pair leaves, the phy asks `ip route get <dst> from <src>` once, asynchronously, and
 * reports a pair the kernel cannot route (EHOSTUNREACH for an unreachable route,
 * ENETUNREACH for none, as a failed send would say). Answers are kept until `forget()` (the
 * addresses or routes changed).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import type { UnreachableCode } from '../core/contract';

/** Classifies `ip route get`'s failure text; undefined when it is not a missing route. */
export function unreachableFromIpError(stderr: string): UnreachableCode | undefined {
  if (/No route to host/i.test(stderr)) return 'EHOSTUNREACH';
  if (/Network is unreachable/i.test(stderr)) return 'ENETUNREACH';
  if (/Permission denied|prohibit/i.test(stderr)) return 'icmp-admin-prohibited';
  return undefined;
}

/** True for a TCP segment with SYN and without ACK (an opening SYN, ours). */
export function isOpeningSyn(segment: Uint8Array): boolean {
  return segment.length >= 20 && (segment[13]! & 0x12) === 0x02;
}

export type RouteRunner = (args: string[], done: (err: { stderr: string } | null) => void) => void;

/** Runs ip(8) (in a namespace when `netns` is set). */
export function ipRunner(netns?: string): RouteRunner {
  return (args, done) => {
    const full = netns ? ['-n', netns, ...args] : args;
    execFile('ip', full, { timeout: 5000 }, (err, _stdout, stderr) => {
      done(err ? { stderr: String(stderr || err.message) } : null);
    });
  };
}

export class RouteCheck {
  /** Pairs asked about or answered: src|dst -> undefined (routable or pending) or the code. */
  private readonly known = new Map<string, UnreachableCode | undefined>();
  private generation = 0;

  constructor(
    private readonly run: RouteRunner,
    private readonly report: (src: string, dst: string, code: UnreachableCode) => void,
  ) {}

  /** A SYN is leaving src -> dst: check the pair once (reports again while it stays unroutable). */
  syn(src: string, dst: string): void {
    const key = `${src}|${dst}`;
    if (this.known.has(key)) {
      const code = this.known.get(key);
      if (code !== undefined) this.report(src, dst, code);
      return;
    }
    this.known.set(key, undefined);
    const gen = this.generation;
    this.run(['route', 'get', dst, 'from', src], (err) => {
      if (gen !== this.generation || !err) return;
      const code = unreachableFromIpError(err.stderr);
      if (code === undefined) return;
      this.known.set(key, code);
      this.report(src, dst, code);
    });
  }

  /** Addresses or routes changed: every pair is asked about again. */
  forget(): void {
    this.generation++;
    this.known.clear();
  }
}

/**
 * Whether a line of `ip monitor route rule` can change what is routable between addresses: not the
 * local table (the kernel's routes for our own addresses, which follow address changes: those the
 * phy already follows) and not IPv6 link-local routes (added late by addrconf on every new link).
 */
export function routeLineMatters(line: string): boolean {
  const l = line.trim();
  if (l === '') return false;
  if (/\btable local\b/.test(l)) return false;
  if (/^(Deleted )?(local |multicast )?fe80:/.test(l)) return false;
  return true;
}

/**
 * Follows the host's routes and policy rules (`ip monitor route rule`, one long-lived child) and
 * calls `onChange` once per burst of changes (after `settleMs` without another): a pair found
 * unroutable may be routable now. A host without `ip monitor` (a minimal guest) logs once and
 * goes without: unroutable pairs are then retried only when the addresses change.
 */
export class RouteWatch {
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly onChange: () => void,
    private readonly onLog?: (msg: string) => void,
    private readonly netns?: string,
    private readonly settleMs = 100,
  ) {}

  start(): void {
    const args = [...(this.netns ? ['-n', this.netns] : []), 'monitor', 'route', 'rule'];
    // ip monitor never reads its stdin, so it would outlive an agent killed with SIGKILL until its
    // next write. A shell in front holds a pipe from us: our end closing (we stop, or we die) ends
    // its `read`, and it ends ip monitor.
    const child = spawn('sh', ['-c', 'ip "$@" & p=$!; read _; kill $p 2>/dev/null', 'sh', ...args], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.child = child;
    child.unref();
    for (const s of [child.stdin, child.stdout] as unknown as { unref?: () => void }[]) s.unref?.();
    child.stdin.on('error', () => {});
    child.on('error', (e) => this.onLog?.(`route watch: ${e.message} (routes are not followed)`));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (text.split('\n').some(routeLineMatters)) this.changed();
    });
  }

  /** Something changed: report once the burst settles. */
  changed(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.onChange();
    }, this.settleMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // Closing the pipe ends the shell's read: it stops ip monitor and exits.
    this.child?.stdin?.end();
    this.child = undefined;
  }
}
