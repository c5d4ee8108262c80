/**
 * Two namespaces joined by N point-to-point paths, for the bench modules (aggregation, failover,
 * heterogeneous). Path i (0-based) is the subnet 10.<net>.<i+1>.0/24: host A holds .1, host B .2.
 * A path is either a veth pair shaped with tbf in each direction (the lab's own tc lines,
 * lab/links/shaping) or a link of the userspace emulator (lab/emulator: rate + delay, for kernels
 * without sch_netem). Host A routes by source address (a rule and a table per path), so a subflow
 * from path i's address to any of B's addresses rides path i both ways. Everything is torn down by
 * `close()`, which never throws.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type EmulatorHandle, linkUpDown, startEmulator, stopEmulator } from '../../lab/emulator/index';
import { tcLines } from '../../lab/links/shaping';

const execFileP = promisify(execFile);

/** CLOCK_MONOTONIC in seconds (the clock python's time.monotonic() reads too). */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

const interruptCleanups = new Set<() => void>();
let hooked = false;

/**
 * Registers a synchronous cleanup to run if the bench is interrupted (SIGINT, SIGTERM), when no
 * `finally` would run; returns the unregister function. The emulator runs detached from the
 * terminal's process group, and namespaces outlive every process, so both need this.
 */
export function onInterrupt(fn: () => void): () => void {
  interruptCleanups.add(fn);
  if (!hooked) {
    hooked = true;
    for (const sig of ['SIGINT', 'SIGTERM'] as const)
      process.once(sig, () => {
        for (const f of interruptCleanups) {
          try {
            f();
          } catch {
            // best effort
          }
        }
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
  }
  return () => {
    interruptCleanups.delete(fn);
  };
}

export function ip(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface PathSpec {
  via: 'veth' | 'emulator';
  /** Rate each direction (tbf on a veth, the emulator's rate on an emulated link). */
  rateMbps?: number;
  /** One-way delay each direction (emulator only). */
  delayMs?: number;
}

export interface PathEnds {
  /** Host A's address (x.x.x.1) and interface. */
  a: string;
  ifA: string;
  /** Host B's address (x.x.x.2) and interface. */
  b: string;
  ifB: string;
}

export interface TwoHosts {
  nsA: string;
  nsB: string;
  paths: PathEnds[];
  /** Takes path i down or up at both ends (like the lab's link-down/link-up events). */
  setPath(i: number, up: boolean): Promise<void>;
  close(): Promise<void>;
}

/** A random tag for names: namespaces `mplab-b<tag>-a`, interfaces `<p><i><tag>` (≤ 15 chars). */
export function tag(): string {
  return Math.random().toString(16).slice(2, 8);
}

/** Builds the two hosts and their paths; on any failure everything built so far is removed. */
export async function twoHosts(net: number, specs: PathSpec[]): Promise<TwoHosts> {
  const t = tag();
  const nsA = `mplab-b${t}-a`;
  const nsB = `mplab-b${t}-b`;
  const paths: PathEnds[] = specs.map((_, i) => ({
    a: `10.${net}.${i + 1}.1`,
    b: `10.${net}.${i + 1}.2`,
    ifA: `pa${i}${t}`,
    ifB: `pb${i}${t}`,
  }));
  let emu: EmulatorHandle | undefined;
  let emuDir: string | undefined;
  const unhook = onInterrupt(() => {
    if (emu) process.kill(emu.pid, 'SIGTERM');
    for (const ns of [nsA, nsB]) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    if (emuDir) rmSync(emuDir, { recursive: true, force: true });
  });
  const close = async (): Promise<void> => {
    unhook();
    if (emu) await stopEmulator(emu).catch(() => {});
    for (const ns of [nsA, nsB]) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // not there
      }
    }
    if (emuDir) rmSync(emuDir, { recursive: true, force: true });
  };
  try {
    ip(['netns', 'add', nsA]);
    ip(['netns', 'add', nsB]);
    const veths = specs.flatMap((s, i) => (s.via === 'veth' ? [i] : []));
    if (veths.length > 0)
      ip(
        ['-batch', '-'],
        veths
          .map((i) => {
            const p = paths[i]!;
            return `link add ${p.ifA} netns ${nsA} type veth peer name ${p.ifB} netns ${nsB}\n`;
          })
          .join(''),
      );
    const emulated = specs.flatMap((s, i) => (s.via === 'emulator' ? [i] : []));
    if (emulated.length > 0) {
      emuDir = mkdtempSync(join(tmpdir(), 'mplab-bench-emu-'));
      emu = await startEmulator({
        lab: `bench-${t}`,
        stateDir: emuDir,
        links: emulated.map((i) => {
          const s = specs[i]!;
          const p = paths[i]!;
          const d = { rateMbps: s.rateMbps, delayMs: s.delayMs };
          return {
            id: `p${i}`,
            a: { netns: nsA, ifname: p.ifA },
            b: { netns: nsB, ifname: p.ifB },
            ab: { ...d },
            ba: { ...d },
          };
        }),
      });
    }
    for (const [ns, side] of [
      [nsA, 'a'],
      [nsB, 'b'],
    ] as const) {
      const lines = ['link set lo up'];
      paths.forEach((p, i) => {
        const ifn = side === 'a' ? p.ifA : p.ifB;
        lines.push(`addr add ${side === 'a' ? p.a : p.b}/24 dev ${ifn}`, `link set ${ifn} up`);
        // Host A routes by source: what leaves from path i's address takes path i, whatever the
        // destination (B answers on-link by destination, so every subflow stays on one path).
        if (side === 'a')
          lines.push(
            `rule add from ${p.a} lookup ${100 + i} priority ${100 + i}`,
            `route add default dev ${ifn} table ${100 + i}`,
          );
      });
      ip(['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
      for (const k of ['all', 'default'])
        ip(['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
      const tc: string[] = [];
      specs.forEach((s, i) => {
        if (s.via !== 'veth' || s.rateMbps === undefined) return;
        const p = paths[i]!;
        tc.push(...tcLines(side === 'a' ? p.ifA : p.ifB, { rateMbps: s.rateMbps }, 1500, false));
      });
      if (tc.length > 0)
        execFileSync('ip', ['netns', 'exec', ns, 'tc', '-batch', '-'], {
          input: `${tc.join('\n')}\n`,
          stdio: ['pipe', 'ignore', 'pipe'],
        });
    }
  } catch (e) {
    await close();
    throw e;
  }
  const setPath = async (i: number, up: boolean): Promise<void> => {
    const p = paths[i];
    if (!p) throw new Error(`no path ${i}`);
    if (specs[i]!.via === 'emulator') {
      await linkUpDown(emu!.socket, `p${i}`, up);
      return;
    }
    const st = up ? 'up' : 'down';
    await Promise.all([
      execFileP('ip', ['-n', nsA, 'link', 'set', 'dev', p.ifA, st]),
      execFileP('ip', ['-n', nsB, 'link', 'set', 'dev', p.ifB, st]),
    ]);
    // A link going down flushes the routes through it; put A's source route back (like the lab's
    // link-up, which re-adds the node's planned routes).
    if (up)
      await execFileP('ip', [
        '-n',
        nsA,
        'route',
        'replace',
        'default',
        'dev',
        p.ifA,
        'table',
        String(100 + i),
      ]);
  };
  return { nsA, nsB, paths, setPath, close };
}

/** Children started by a bench run, so a failure anywhere still ends every one of them. */
export class Procs {
  private readonly live = new Set<ChildProcess>();
  private readonly unhook = onInterrupt(() => {
    for (const p of this.live) p.kill('SIGKILL');
  });

  /** Spawns `cmd args` inside namespace `ns` (ip netns exec execs, so the pid is the command's). */
  spawnIn(ns: string, cmd: string, args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
    this.live.add(p);
    p.once('exit', () => this.live.delete(p));
    return p;
  }

  /** SIGKILLs every child still running and waits (briefly) for each to exit. */
  async killAll(): Promise<void> {
    await Promise.all(
      [...this.live].map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const t = setTimeout(resolve, 2000);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            p.kill('SIGKILL');
          }),
      ),
    );
    this.live.clear();
    this.unhook();
  }
}

/** Collects a child's stdout and stderr; `waitFor(text)` resolves once stdout contains it. */
export function collect(p: ChildProcess): {
  out: () => string;
  err: () => string;
  waitFor: (text: string, timeoutMs: number) => Promise<void>;
  exited: Promise<number | null>;
} {
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  p.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  p.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  const waitFor = (text: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out waiting for "${text}"; stderr: ${err.slice(-500)}`)),
        timeoutMs,
      );
      const check = () => {
        if (out.includes(text)) {
          clearTimeout(t);
          resolve();
        } else if (p.exitCode !== null) {
          clearTimeout(t);
          reject(new Error(`exited (${p.exitCode}) before "${text}"; stderr: ${err.slice(-500)}`));
        } else waiters.push(check);
      };
      p.once('exit', () => {
        for (const w of waiters.splice(0)) w();
      });
      check();
    });
  return { out: () => out, err: () => err, waitFor, exited };
}
