/**
 * The IETF 80 MPTCP live-CD demo in one call: the ietf-livecd lab (a client with a WiFi-like and a
 * 3G-like access link), the knobs shown, one download from the server to the client, WiFi lost and
 * restored mid-transfer, the state report with the mapping table, the plot, integrity checked, the
 * lab torn down (also when interrupted). Without root or network namespaces it says why and runs the
 * same scenario in the simulator.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sysctl } from '../../stack/sysctl';
import { RuntimeFailure, UsageError } from '../errors';
import { Lab } from '../lab';
import { formatReport } from '../report';
import { simulateRun } from '../sim/run';
import { loadTopology } from '../topology/index';
import type { LabModel, ScenarioEvent } from '../topology/model';
import { runTraffic } from './index';
import type { RunEvent, RunResult, TimelinePoint } from './result';
import type { LiveSubflow } from './timeline';

export const DEMOS = ['ietf-livecd'] as const;
export type DemoName = (typeof DEMOS)[number];

/** Where the shipped topologies are: beside dist/ once bundled, or the repository's from source. */
export function topologyPath(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', 'topologies'),
    join(here, '..', '..', 'topologies'),
    resolve('topologies'),
  ];
  for (const c of candidates) {
    const f = join(c, `${name}.yaml`);
    if (existsSync(f)) return f;
  }
  throw new UsageError(`cannot find the topology '${name}.yaml' (looked in ${candidates.join(', ')})`);
}

/** Why this process cannot build network namespaces, or undefined when it can. */
export function whyNoNetns(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'building network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); run it with sudo for the emulated lab';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "iproute2's 'ip' command is not installed";
  }
  const probe = `mplab-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  } catch {
    return 'this machine refuses to create network namespaces (ip netns add failed: a container without privileges?)';
  }
  return undefined;
}

export interface DemoOptions {
  /** Transfer length (default 30 s), WiFi down and up times (default 10 s and 20 s). */
  durationMs?: number;
  downAtMs?: number;
  upAtMs?: number;
  /** Force the simulator. */
  sim?: boolean;
  seed?: number;
  /** Leave the lab up afterwards. */
  keep?: boolean;
  /** Lab name (default the topology's, ietf-livecd). */
  name?: string;
  intervalMs?: number;
  signal?: AbortSignal;
  onPhase?: (text: string) => void;
  onKnobs?: (rows: { node: string; name: string; value: string | number | boolean }[]) => void;
  onPoint?: (p: TimelinePoint, live: LiveSubflow[]) => void;
  onEvent?: (e: RunEvent) => void;
}

export interface DemoOutput {
  result: RunResult;
  /** 'lab' (namespaces, agents, the emulator) or 'sim'. */
  mode: 'lab' | 'sim';
  /** Why the simulator was used when it was not asked for. */
  fallback?: string;
  /** Text state reports (with the mapping table). */
  reports: string[];
  knobs: { node: string; name: string; value: string | number | boolean }[];
}

export const DEMO_KNOBS = ['net.mptcp.mptcp_enabled', 'net.mptcp.mptcp_ndiffports', 'net.mptcp.mptcp_mss'];

function demoEvents(model: LabModel, downAt: number, upAt: number): ScenarioEvent[] {
  const wifi = model.links.find((l) => l.id === 'wifi');
  if (!wifi) throw new UsageError('the ietf-livecd topology has no link "wifi"');
  return [
    { at: downAt, action: 'link-down', link: 'wifi', target: 'client:wifi' },
    { at: upAt, action: 'link-up', link: 'wifi', target: 'client:wifi' },
  ];
}

export async function runDemo(demo: DemoName, options: DemoOptions = {}): Promise<DemoOutput> {
  const durationMs = options.durationMs ?? 30_000;
  const downAt = options.downAtMs ?? 10_000;
  const upAt = options.upAtMs ?? 20_000;
  if (!(downAt < upAt && upAt < durationMs))
    throw new UsageError(
      `demo: need down-at < up-at < duration (got ${downAt} ms, ${upAt} ms, ${durationMs} ms)`,
    );
  const phase = options.onPhase ?? (() => {});
  const model = await loadTopology(topologyPath(demo), options.name ? { name: options.name } : {});
  const events = demoEvents(model, downAt, upAt);
  const spec = {
    from: 'server',
    to: 'client',
    stack: 'ts' as const,
    timeMs: durationMs,
    intervalMs: options.intervalMs ?? 200,
    events,
  };
  const fallback = options.sim ? undefined : whyNoNetns();
  if (options.sim || fallback) {
    if (fallback)
      phase(
        `cannot build the lab here: ${fallback}.\nRunning the same scenario in the simulator (--sim) instead.`,
      );
    const client = model.nodes.find((n) => n.name === 'client');
    const registry = new Sysctl(client?.knobs ?? {});
    const knobs = DEMO_KNOBS.map((name) => ({ node: 'client', name, value: registry.get(name) }));
    options.onKnobs?.(knobs);
    phase(
      `simulating ${durationMs / 1000} s: download server → client, WiFi down at ${downAt / 1000} s, up at ${upAt / 1000} s`,
    );
    const out = simulateRun(model, spec, {
      seed: options.seed ?? 1,
      ...(options.onPoint ? { onPoint: options.onPoint } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    const r: DemoOutput = {
      result: out.result,
      mode: 'sim',
      reports: out.reports.map((x) => `== ${x.node}\n${x.text}`),
      knobs,
    };
    if (fallback) r.fallback = fallback;
    return r;
  }

  phase(
    `building the ${model.name} lab (client with WiFi and 3G, two access routers, a core router, a server)…`,
  );
  const lab = await Lab.up(model);
  let down = false;
  const teardown = async () => {
    if (down) return;
    down = true;
    if (options.keep) {
      phase(`the lab ${lab.name} stays up (--keep); 'mplab down ${lab.name}' removes it`);
      return;
    }
    phase(`tearing the lab ${lab.name} down…`);
    await lab.down();
  };
  try {
    if (options.signal?.aborted) throw new RuntimeFailure('interrupted');
    const knobs = (await lab.sysctl('client', DEMO_KNOBS)).map((r) => ({
      node: r.node,
      name: r.name,
      value: r.value,
    }));
    options.onKnobs?.(knobs);
    phase(
      `downloading for ${durationMs / 1000} s: server → client, WiFi down at ${downAt / 1000} s, up at ${upAt / 1000} s`,
    );
    const out = await runTraffic(lab, spec, {
      ...(options.onPoint ? { onPoint: options.onPoint } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const reports = out.reports.map((x) => formatReport(x.node, x.report));
    return { result: out.result, mode: 'lab', reports, knobs };
  } finally {
    await teardown();
  }
}
