/**
 * What a results file says about where and when it was measured: the commit (and whether the tree
 * had changes), the date, the kernel, the CPU model and count, memory, Node, the versions of the
 * tools the baselines use, and the load average at the start and the end of the run (figures that
 * need CPU move with it). Every probe is best effort: a missing tool reads "missing", never throws.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, hostname, loadavg, release, totalmem, version } from 'node:os';

export interface Commit {
  /** Full hash, or "unknown" outside a git checkout. */
  hash: string;
  short: string;
  /** True when the work tree had uncommitted changes to tracked files. */
  dirty: boolean;
}

export interface Machine {
  hostname: string;
  /** Logical CPUs the run could use. */
  cpus: number;
  cpuModel: string;
  memGiB: number;
  /** `uname -r` and `uname -v`. */
  kernel: string;
  kernelVersion: string;
  os: string;
  node: string;
  tools: Record<string, string>;
}

function out(cmd: string, args: string[], cwd?: string): string | undefined {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 5000,
    }).trim();
  } catch {
    return undefined;
  }
}

export function commitOf(dir: string): Commit {
  const hash = out('git', ['rev-parse', 'HEAD'], dir);
  if (!hash) return { hash: 'unknown', short: 'unknown', dirty: false };
  const status = out('git', ['status', '--porcelain', '--untracked-files=no'], dir) ?? '';
  return { hash, short: hash.slice(0, 7), dirty: status.length > 0 };
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** First line of a tool's version output, or "missing". */
function toolVersion(cmd: string, args: string[]): string {
  const v = out(cmd, args);
  return v ? (v.split('\n')[0] ?? v) : 'missing';
}

export function machine(): Machine {
  const c = cpus();
  return {
    hostname: hostname(),
    cpus: availableParallelism(),
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    kernelVersion: version(),
    os: osName(),
    node: process.version,
    tools: {
      ip: toolVersion('ip', ['-V']),
      tc: toolVersion('tc', ['-V']),
      iperf3: toolVersion('iperf3', ['--version']),
      python3: toolVersion('python3', ['--version']),
      ethtool: toolVersion('ethtool', ['--version']),
    },
  };
}

/** The 1, 5 and 15 minute load averages, two decimals. */
export function load(): number[] {
  return loadavg().map((x) => Number(x.toFixed(2)));
}

function cpuTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/**
 * The share of all CPUs busy over the next `ms` (from /proc/stat), 0–1, two decimals; undefined
 * where /proc/stat is missing. Taken before and after a run, when the bench itself is idle, it says
 * how much other work the machine had, faster than the load average's one-minute filter does.
 */
export async function cpuBusy(ms = 500): Promise<number | undefined> {
  const a = cpuTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTicks();
  if (!a || !b || b.total <= a.total) return undefined;
  return Number(((b.busy - a.busy) / (b.total - a.total)).toFixed(2));
}
