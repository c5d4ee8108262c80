/**
 * What a campaign's numbers were measured on: kernel, CPU, the load average when the campaign
 * started and ended (a loaded machine explains a noisy cell), and the commit of mplab that ran it
 * (with whether the work tree had changes), so a reader can tell runs of different code apart.
 */
import { execFileSync } from 'node:child_process';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  hostname: string;
  kernel: string;
  cpu: string;
  cpus: number;
  memGiB: number;
  node: string;
  /** The git commit of the mplab checkout that ran the campaign, when it runs from one. */
  commit?: string;
  /** True when that checkout had uncommitted changes. */
  dirty?: boolean;
}

/** 1, 5 and 15 minute load averages, two decimals. */
export function loadNow(): [number, number, number] {
  const [a, b, c] = loadavg().map((v) => Math.round(v * 100) / 100);
  return [a ?? 0, b ?? 0, c ?? 0];
}

function git(args: string[]): string | undefined {
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return execFileSync('git', ['-C', here, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  const m: MachineInfo = {
    hostname: hostname(),
    kernel: release(),
    cpu: c[0]?.model.trim() ?? 'unknown',
    cpus: c.length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
  const commit = git(['rev-parse', 'HEAD']);
  if (commit) {
    m.commit = commit;
    m.dirty = (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  }
  return m;
}
