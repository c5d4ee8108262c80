/**
 * The IETF 80 MPTCP live-CD demo in one call: the ietf-livecd lab (a client with a WiFi-like and a
 * 3G-like access link), the knobs shown, one download as it happened: the phone-like client opens
 * the connection and the server sends on it (`run client server --reverse`), so the client's path
 * manager opens the 3G subflow and re-joins when WiFi comes back; WiFi lost and restored
 * mid-transfer, the state report with the mapping table, the plot, integrity checked, the lab torn
 * down (also when interrupted). Without root or network namespaces it says why and runs the same
 * scenario in the simulator.
 *
 * `compare: 'kernel'` runs the same scenario a second time with client and server on the kernel's
 * MPTCP (`stack: kernel` nodes, endpoints and limits as lab.ts configures them, and the mptcpd-like
 * endpoint watcher of lab/kernel/pmwatch.ts on the client), in a lab of its own after ours; the
 * figures of both (demo-figures.ts) go in one table and one plot.
 *
 * `backend: 'vm'` makes the client and the server QEMU VMs (the routers stay namespaces), each with
 * its own kernel and our agent in the guest: the live-CD demo with the hosts as virtual machines.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Sysctl } from '../../stack/sysctl';
import { RuntimeFailure, UsageError } from '../errors';
import { watchKernelEndpoints } from '../kernel/pmwatch';
import { Lab } from '../lab';
import { formatReport } from '../report';
import { simulateRun } from '../sim/run';
import { loadTopology } from '../topology/index';
import type { LabModel, NodeModel, ScenarioEvent } from '../topology/model';
import { type DemoFigures, demoFigures } from './demo-figures';
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
  /** Run the scenario again on the kernel's MPTCP (needs a lab: refused in the simulator). */
  compare?: 'kernel';
  /** Called when the comparison run starts (its live view). */
  onCompareStart?: () => void;
  /** 'vm': client and server are QEMU VMs (the routers stay namespaces). */
  backend?: 'vm';
  /** Their accelerator (default auto: KVM where it runs guests, else TCG). */
  vmAccel?: 'auto' | 'kvm' | 'tcg';
}

/** The comparison run on the kernel's MPTCP. */
export interface DemoComparison {
  result: RunResult;
  figures: DemoFigures;
  /** What the endpoint watcher did (link lost / back, with how long each reaction took). */
  watcher: string[];
}

export interface DemoOutput {
  result: RunResult;
  /** 'lab' (namespaces, agents, the emulator) or 'sim'. */
  mode: 'lab' | 'sim';
  /** Why the simulator was used when it was not asked for. */
  fallback?: string;
  /** Text state reports (with the mapping table). */
  reports: string[];
  /** The same reports as objects (what --json prints): the agent's report in a lab, the stack's in --sim. */
  reportObjects: { node: string; report: unknown }[];
  knobs: { node: string; name: string; value: string | number | boolean }[];
  figures: DemoFigures;
  compare?: DemoComparison;
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
  if (options.backend === 'vm' && (options.sim || options.compare))
    throw new UsageError(
      `demo --backend vm runs in a lab of VMs: ${options.sim ? 'not in the simulator (--sim)' : "not with --compare kernel (the endpoint watcher runs in the client's namespace, not in a guest)"}`,
    );
  const loaded = await loadTopology(topologyPath(demo), options.name ? { name: options.name } : {});
  const model = options.backend === 'vm' ? vmVariant(loaded, options.vmAccel ?? 'auto') : loaded;
  const events = demoEvents(model, downAt, upAt);
  // as it happened: the phone-like client opens the connection, the server sends on it
  const spec = {
    from: 'client',
    to: 'server',
    reverse: true,
    stack: 'ts' as const,
    timeMs: durationMs,
    intervalMs: options.intervalMs ?? 200,
    events,
  };
  const figures = (r: RunResult) => demoFigures(r, figureOptions(model, downAt, upAt, durationMs));
  const fallback = options.sim ? undefined : whyNoNetns();
  if (options.compare === 'kernel' && (options.sim || fallback))
    throw new UsageError(
      `demo --compare kernel needs a lab (the simulator cannot model the kernel's MPTCP)${fallback ? `, and ${fallback}` : ''}`,
    );
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
      `simulating ${durationMs / 1000} s: the client connects and downloads from the server, WiFi down at ${downAt / 1000} s, up at ${upAt / 1000} s`,
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
      reportObjects: out.reports.map((x) => ({ node: x.node, report: x.report })),
      knobs,
      figures: figures(out.result),
    };
    if (fallback) r.fallback = fallback;
    return r;
  }

  // loaded under its own name, so every host object (namespaces, interfaces) is named after it
  const kernelModel =
    options.compare === 'kernel'
      ? kernelVariant(await loadTopology(topologyPath(demo), { name: `${model.name}-k`.slice(0, 20) }))
      : undefined;
  phase(
    `building the ${model.name} lab (client with WiFi and 3G, two access routers, a core router, a server)${options.backend === 'vm' ? ', client and server as VMs' : ''}…`,
  );
  const runOptions = {
    ...(options.onPoint ? { onPoint: options.onPoint } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const ours = await inLab(model, options, phase, async (lab) => {
    const knobs = (await lab.sysctl('client', DEMO_KNOBS)).map((r) => ({
      node: r.node,
      name: r.name,
      value: r.value,
    }));
    options.onKnobs?.(knobs);
    phase(
      `downloading for ${durationMs / 1000} s: the client connects and the server sends, WiFi down at ${downAt / 1000} s, up at ${upAt / 1000} s`,
    );
    const out = await runTraffic(lab, spec, runOptions);
    const reports = out.reports.map((x) => formatReport(x.node, x.report));
    const o: DemoOutput = {
      result: out.result,
      mode: 'lab',
      reports,
      reportObjects: out.reports,
      knobs,
      figures: figures(out.result),
    };
    return o;
  });
  if (!kernelModel || ours.result.integrity === 'interrupted' || options.signal?.aborted) return ours;
  phase(
    `the same scenario on the kernel's MPTCP: building ${kernelModel.name} (client and server stack: kernel, an mptcpd-like endpoint watcher on the client)…`,
  );
  ours.compare = await inLab(kernelModel, options, phase, async (lab) => {
    const client = lab.model.nodes.find((n) => n.name === 'client')!;
    await configureKernelPm(lab, client);
    const watcher = await watchKernelEndpoints(client);
    let reactions: Awaited<ReturnType<typeof watcher.stop>> = [];
    let out: Awaited<ReturnType<typeof runTraffic>>;
    try {
      options.onCompareStart?.();
      out = await runTraffic(lab, { ...spec, stack: 'kernel' }, runOptions);
    } finally {
      reactions = await watcher.stop();
    }
    const watched = reactions.map(
      (r) =>
        `${r.ifname} ${r.usable ? 'back: route and endpoint re-added' : 'lost: endpoint deleted'} in ${(r.done - r.seen).toFixed(1)} ms${r.error ? ` (failed: ${r.error})` : ''}`,
    );
    return { result: out.result, figures: figures(out.result), watcher: watched };
  });
  return ours;
}

/**
 * The kernel's path manager as a phone's user sets it up: the client (which opens the connection)
 * gets a `subflow` endpoint per address, so its in-kernel path manager opens the 3G subflow itself
 * (and, re-added by the watcher, a WiFi one when WiFi returns); the single-homed server announces
 * nothing and only accepts joins. Limits leave room for every subflow the client may open.
 */
export async function configureKernelPm(lab: Lab, client: NodeModel): Promise<void> {
  const lines = async (node: string, cmds: string[]) => {
    const r = await lab.exec(node, ['ip', '-batch', '-'], { input: `${cmds.join('\n')}\n` });
    if (r.code !== 0)
      throw new RuntimeFailure(`configuring the kernel's path manager on '${node}': ${r.stderr.trim()}`);
  };
  await lines('server', ['mptcp endpoint flush', 'mptcp limits set subflows 8 add_addr_accepted 0']);
  const eps = client.interfaces.flatMap((i) =>
    i.addresses
      .filter((a) => a.family === 4)
      .map((a) => `mptcp endpoint add ${a.address} dev ${i.name} subflow`),
  );
  await lines('client', ['mptcp endpoint flush', 'mptcp limits set subflows 8 add_addr_accepted 8', ...eps]);
}

/** Brings a lab up, runs `fn` in it, tears it down (or keeps it with --keep), also on failure. */
async function inLab<T>(
  model: LabModel,
  options: DemoOptions,
  phase: (t: string) => void,
  fn: (lab: Lab) => Promise<T>,
): Promise<T> {
  const lab = await Lab.up(model);
  try {
    if (options.signal?.aborted) throw new RuntimeFailure('interrupted');
    return await fn(lab);
  } finally {
    if (options.keep) phase(`the lab ${lab.name} stays up (--keep); 'mplab down ${lab.name}' removes it`);
    else {
      phase(`tearing the lab ${lab.name} down…`);
      await lab.down();
    }
  }
}

/**
 * The demo's topology with client and server on the kernel's MPTCP: `stack: kernel` nodes, which
 * the lab configures as a user would (an endpoint per address, `signal subflow`, and limits); our
 * stack's knobs do not apply to them. (Load the topology under a name of its own for it, so both
 * labs can exist side by side.)
 */
export function kernelVariant(model: LabModel): LabModel {
  const k: LabModel = structuredClone(model);
  for (const n of k.nodes) {
    if (n.name !== 'client' && n.name !== 'server') continue;
    n.stack = 'kernel';
    n.knobs = {};
  }
  return k;
}

/** The demo's topology with client and server as QEMU VMs (512 MiB, one vCPU each). */
export function vmVariant(model: LabModel, accel: 'auto' | 'kvm' | 'tcg'): LabModel {
  const v: LabModel = structuredClone(model);
  for (const n of v.nodes) {
    if (n.name !== 'client' && n.name !== 'server') continue;
    n.backend = 'vm';
    n.vm = { memoryMib: 512, cpus: 1, accel };
  }
  return v;
}

/** Figure thresholds from the topology: stall below 10 % of 3G's rate, WiFi in use at 10 % of its. */
function figureOptions(model: LabModel, downAt: number, upAt: number, durationMs: number) {
  const client = model.nodes.find((n) => n.name === 'client');
  const wifiAddress = client?.interfaces.find((i) => i.name === 'wifi')?.addresses[0]?.address ?? '';
  const rate = (id: string) => model.links.find((l) => l.id === id)?.ab.rateMbps ?? 0;
  return {
    wifiAddress,
    downAt: downAt / 1000,
    upAt: upAt / 1000,
    duration: durationMs / 1000,
    stallMbps: Math.max(0.01, rate('3g') * 0.1),
    wifiMbps: Math.max(0.01, rate('wifi') * 0.1),
  };
}
