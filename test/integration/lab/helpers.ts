/**
 * Shared pieces of the lab integration tests: unique lab names, leftovers (what a lab left on the
 * host), an iperf3 transfer between two nodes, and cleanup registration.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { Lab } from '../../../lab/lab';
import { labDir } from '../../../lab/state';
import { tag } from '../../helpers/netns';

const made = new Set<string>();

/** A unique lab name for this test file (`t<tag><suffix>`), torn down in afterAll and at exit. */
export function labName(suffix = ''): string {
  const n = `t${tag()}${suffix}`;
  made.add(n);
  return n;
}

/** The names labName() handed out in this test file: the only labs its cleanup may touch. */
export function madeLabs(): string[] {
  return [...made];
}

export function labScope(): void {
  afterAll(async () => {
    await Lab.downAll((n) => [...made].some((m) => n === m || n.startsWith(`${m}-`)));
    for (const l of made) await Lab.down(l).catch(() => {});
  });
}

/** Everything of a lab still on the host: namespaces, its run dir, processes pointing into it. */
export function leftovers(lab: string): { namespaces: string[]; dir: boolean; processes: number[] } {
  let namespaces: string[] = [];
  try {
    namespaces = readdirSync('/run/netns').filter((n) => n.startsWith(`mplab-${lab}-`));
  } catch {
    // no /run/netns at all
  }
  const processes: number[] = [];
  const marker = `${labDir(lab)}/`;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(marker)) processes.push(Number(e));
    } catch {
      // gone
    }
  }
  return { namespaces, dir: existsSync(labDir(lab)), processes };
}

export const NOTHING = { namespaces: [], dir: false, processes: [] };

/**
 * A kernel TCP transfer with iperf3 from `client` (bound to `from`) to `server` at `to`. Returns the
 * receiver's bytes and bits per second.
 */
export async function iperf(
  lab: Lab,
  server: string,
  to: string,
  client: string,
  from: string,
  args: string[] = ['-n', '2M'],
  port = 5201,
): Promise<{ bytes: number; bps: number }> {
  const handle = `mplab-${lab.name}-${server}`;
  const srv = spawn(
    'ip',
    ['netns', 'exec', handle, 'iperf3', '-s', '-1', '--forceflush', '-B', to, '-p', String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`iperf3 server did not start: ${out}`)), 5000);
      srv.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('Server listening')) {
          clearTimeout(t);
          resolve();
        }
      });
      srv.on('exit', () => reject(new Error(`iperf3 server exited: ${out}`)));
    });
    const r = await lab.exec(
      client,
      ['iperf3', '-c', to, '-B', from, '-p', String(port), '--json', '--connect-timeout', '2000', ...args],
      { timeoutMs: 30_000 },
    );
    const j = JSON.parse(r.stdout) as {
      error?: string;
      end?: { sum_received?: { bytes: number; bits_per_second: number } };
    };
    if (j.error || !j.end?.sum_received) throw new Error(`iperf3 ${from} -> ${to}: ${j.error ?? r.stderr}`);
    return { bytes: j.end.sum_received.bytes, bps: j.end.sum_received.bits_per_second };
  } finally {
    srv.kill('SIGKILL');
  }
}

/** True when `pid` no longer runs (gone, or a zombie its parent has not reaped yet). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}
