/**
 * How CPU-bound a lab run was, measured over the run itself (not a load average that lags by a
 * minute): the busiest of the lab's own processes (an agent is one Node thread, so near 1.0 it is
 * the bottleneck, not the links), and the machine's busy fraction across all cores (others' work
 * competing with the lab).
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which may hold spaces, in parentheses
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime + stime
  } catch {
    return undefined;
  }
}

/** Time the process's main thread (where Node's event loop runs) spent runnable but waiting for a core, and its wake-ups. */
function processWait(pid: number): { waitNs: number; slices: number } | undefined {
  try {
    const [, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { waitNs: wait!, slices: slices! };
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface CpuUse {
  /** CPU seconds per wall second of the busiest process among those sampled (1 = one full core). */
  busiestProcess: number;
  /** Fraction of all cores' time that was busy (anyone's work) during the sample. */
  machineBusy: number;
  /**
   * The longest mean wait for a core per wake-up among the sampled processes, ms (from
   * /proc/PID/schedstat): the latency the host's scheduler added to every packet a process
   * handled, which a link model does not have.
   */
  waitPerWakeMs: number;
}

/** Starts sampling `pids`; the returned function ends the sample and says what was used. */
export function sampleCpu(pids: readonly number[]): () => CpuUse {
  const t0 = performance.now();
  const p0 = pids.map(processTicks);
  const w0 = pids.map(processWait);
  const m0 = machineTicks();
  return () => {
    const wallS = (performance.now() - t0) / 1000;
    const m1 = machineTicks();
    let busiest = 0;
    let waitPerWake = 0;
    pids.forEach((pid, i) => {
      const a = p0[i];
      const b = processTicks(pid);
      if (a !== undefined && b !== undefined && wallS > 0)
        busiest = Math.max(busiest, (b - a) / TICKS_PER_S / wallS);
      const wa = w0[i];
      const wb = processWait(pid);
      if (wa && wb && wb.slices > wa.slices)
        waitPerWake = Math.max(waitPerWake, (wb.waitNs - wa.waitNs) / 1e6 / (wb.slices - wa.slices));
    });
    const total = m1.total - m0.total;
    return {
      busiestProcess: Math.round(busiest * 100) / 100,
      machineBusy: total > 0 ? Math.round(((m1.busy - m0.busy) / total) * 100) / 100 : 0,
      waitPerWakeMs: Math.round(waitPerWake * 1000) / 1000,
    };
  };
}
