/** Small pieces shared by the run drivers. */
import { release } from 'node:os';
import type { TrafficResult } from '../../stack/agent/protocol';
import { VERSION } from '../../stack/version';
import type { Lab } from '../lab';
import type { RunEvent, RunResult, RunSubflow, TimelinePoint } from './result';
import type { RunSpec } from './spec';
import { counterTotals, measureWindow, type WindowTimes } from './window';

export function round(v: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(v * k) / k;
}

/** "ok", or what went wrong, from the two ends' results. */
export function integrityOf(
  sent: Pick<TrafficResult, 'bytes' | 'sha256' | 'error'> | undefined,
  received: Pick<TrafficResult, 'bytes' | 'sha256' | 'error'> | undefined,
): string {
  if (!sent) return 'the sender reported no result';
  if (!received) return 'the receiver reported no result';
  if (sent.error) return `sender: ${sent.error.code}: ${sent.error.message}`;
  if (received.error) return `receiver: ${received.error.code}: ${received.error.message}`;
  if (received.bytes !== sent.bytes)
    return `short transfer: ${received.bytes} of ${sent.bytes} bytes arrived`;
  if (received.sha256 !== sent.sha256)
    return `SHA-256 mismatch: sent ${sent.sha256.slice(0, 16)}…, received ${received.sha256.slice(0, 16)}…`;
  return 'ok';
}

export function versions(): NonNullable<RunResult['versions']> {
  return { mplab: VERSION, node: process.version, kernel: release() };
}

/** Knob values of the two nodes (read from their agents or kernels) and the versions in use. */
export async function runMeta(lab: Lab, nodes: string[]): Promise<Pick<RunResult, 'knobs' | 'versions'>> {
  const knobs: NonNullable<RunResult['knobs']> = {};
  for (const n of nodes) {
    const node = lab.model.nodes.find((x) => x.name === n);
    if (!node || node.stack === 'none') continue;
    try {
      const rows = await lab.sysctl(n);
      knobs[n] = Object.fromEntries(
        rows.map((r) => [r.name, typeof r.value === 'boolean' ? Number(r.value) : r.value]),
      );
    } catch {
      // knobs are informative here
    }
  }
  return { knobs, versions: versions() };
}

/**
 * The RunResult of a live run (either driver): the figures measured, the timeline and its subflows,
 * the events applied, and the knobs and versions of the two ends.
 */
export async function liveRunResult(
  lab: Lab,
  spec: Pick<RunSpec, 'from' | 'to' | 'omitMs'>,
  stack: RunResult['stack'],
  measured: { bytes: number; seconds: number; integrity: string; window: Omit<WindowTimes, 'omit'> },
  timeline: { subflows(): RunSubflow[]; readonly points: TimelinePoint[] },
  events: RunEvent[],
  startedAt: string,
  /** Nodes whose knobs cannot be read (their agent died during the run). */
  gone: readonly string[] = [],
): Promise<RunResult> {
  const { bytes, seconds, integrity } = measured;
  const w = measureWindow(timeline.points, { ...measured.window, omit: (spec.omitMs ?? 0) / 1000 });
  const counters = counterTotals(timeline.points);
  return {
    lab: lab.name,
    from: spec.from,
    to: spec.to,
    stack,
    sim: false,
    bytes,
    seconds: round(seconds, 6),
    ...w,
    ...(Object.keys(counters).length > 0 ? { counters } : {}),
    integrity,
    subflows: timeline.subflows(),
    timeline: timeline.points,
    events,
    startedAt,
    ...(await runMeta(
      lab,
      [spec.from, spec.to].filter((n) => !gone.includes(n)),
    )),
  };
}
