/**
 * The Lab: the scripting API and what every CLI command calls.
 *
 *   const lab = await Lab.up('topologies/two-host.yaml');
 *   await lab.sysctl('all', ['net.mptcp.mptcp_ndiffports=2']);
 *   console.log(await lab.report('a'));
 *   await lab.down();
 *
 * `up` validates everything it can before creating anything (topology, backend, link parameters
 * against what the kernel and the emulator can do, the agent bundle, an existing lab of that name):
 * such failures are UsageErrors (exit 2) and leave nothing behind. After that, every object is
 * recorded in /run/mplab/<lab>/state.json before it is created; any failure tears down what was
 * built and ends as a RuntimeFailure (exit 1). `down` works from the state alone, also after a
 * kill -9, and is idempotent.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../stack/agent/client';
import type { AgentReport, SysctlValue } from '../stack/agent/protocol';
import {
  agentScript,
  applyKnobs,
  heartbeatDeadlineMs,
  connectAgent,
  processMatches,
  running,
  spawnAgent,
  waitAddresses,
  waitAgent,
  withAgent,
} from './agents';
import { allLabContainers, DockerBackend, dockerAvailable, removeContainers } from './backends/docker';
import { NetnsBackend, parallel } from './backends/netns';
import type { Backend } from './backends/types';
import { type VmBootProgress, VmBackend } from './backends/vm/index';
import type { StreamProcess } from './vm/guest-process';
import { wireSpecOf } from './backends/types';
import { type CaptureHandle, type CaptureOptions, startCapture, startStackCapture } from './capture';
import { MplabError, RuntimeFailure, UsageError } from './errors';
import { buildImage, imageTag, projectRoot, readDefinition } from './images/build';
import type { CommandResult } from './exec';
import type { RunResult as TrafficResult } from './run/result';
import type { RunSpec as TrafficSpec } from './run/spec';
import type { LabRunOptions as TrafficOptions } from './run/ts';
import { ipBatch, run } from './exec';
import {
  applyChange,
  type DirChange,
  type LinkPlan,
  netemAvailable,
  netemParams,
  planLink,
  runtimeTcLines,
  tcLines,
} from './links/shaping';
import {
  type LabState,
  labDir,
  listLabs,
  type ProcessRecord,
  readState,
  removeLabDir,
  runDir,
  StateFile,
} from './state';
import { parseNodeEndpoint } from './topology/endpoint';
import { loadTopology } from './topology/index';
import type { DirStats as EmuDirStats } from './emulator/types';
import type { DirParams, LabModel, LinkModel, NodeModel } from './topology/model';
import { type ClusterRecord, readClusterRecord } from './remote/record';
import { endIsHere, wireVxlans } from './remote/vxlan';

export type UpStep =
  | 'load'
  | 'check'
  | 'image'
  | 'nodes'
  | 'boot'
  | 'links'
  | 'configure'
  | 'emulator'
  | 'shaping'
  | 'agents'
  | 'knobs';

export interface UpProgress {
  step: UpStep;
  state: 'start' | 'done';
  /** Milliseconds the step took (on 'done'). */
  ms?: number;
  /** How many objects the step handles (nodes, links, agents). */
  count?: number;
  detail?: string;
}

export interface UpOptions {
  /** Replaces the topology's lab name. */
  name?: string;
  /** Forces every node onto this backend. */
  backend?: string;
  onProgress?: (p: UpProgress) => void;
  /** How long to wait for each agent's control socket (default 15 s). */
  agentTimeoutMs?: number;
  /** Aborting stops the build at the next step; what was built is removed (RuntimeFailure). */
  signal?: AbortSignal;
  /** Boot progress of each VM node (backend: vm). */
  onVmBoot?: (p: VmBootProgress) => void;
  /** Spread the lab over the hosts of this inventory file (lab/remote/). */
  hosts?: string;
  /** With `hosts`: trust a host whose key is not pinned (never a changed one). */
  acceptNewHostKeys?: boolean;
  /** With `hosts`: told about each host key accepted without a pin. */
  onNewHostKey?: (host: string, key: string, fingerprint: string) => void;
}

export interface DownResult {
  lab: string;
  /** False when there was nothing to remove. */
  existed: boolean;
  namespaces: string[];
  killed: number[];
  ms: number;
}

export interface IfaceCounters {
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  rxDropped: number;
  txDropped: number;
  operUp: boolean;
  /** Queueing discipline counters on this interface's egress (all qdiscs of the device). */
  qdisc?: { drops: number; overlimits: number; backlog: number; packets: number };
}

export interface NodeStatus {
  name: string;
  kind: string;
  stack: string;
  handle: string;
  exists: boolean;
  addresses: string[];
  agent?: { pid?: number; socket: string; alive: boolean; answers: boolean; core?: string; error?: string };
  /** Multi-host labs: the host the node runs on (`local` = this machine). */
  host?: string;
  /** VM nodes: QEMU's state, accelerator, memory, uptime, where the console is. */
  vm?: VmStatus;
}

export interface VmStatus {
  state: 'booting' | 'ready' | 'dead';
  pid?: number;
  accel: 'kvm' | 'tcg';
  memoryMib: number;
  cpus: number;
  uptimeMs?: number;
  sshPort: number;
  console: string;
  serial: string;
}

export interface LinkStatus {
  id: string;
  a: string;
  b: string;
  up: boolean;
  via: LinkPlan['via'];
  ab: DirParams;
  ba: DirParams;
  counters: { a?: IfaceCounters; b?: IfaceCounters };
  /** The userspace emulator's counters per direction (emulated links). */
  emulator?: { ab: EmuDirStats; ba: EmuDirStats };
  /** A link between two hosts: its VXLAN tunnel (counters: a from a's host, b from b's). */
  vxlan?: { vni: number; mtu: number; declaredMtu: number; port: number; hosts: [string, string] };
}

export interface LabStatus {
  lab: string;
  file: string;
  backend: string;
  phase: string;
  createdAt: string;
  nodes: NodeStatus[];
  links: LinkStatus[];
  emulator?: { pid?: number; alive: boolean };
  timings?: Record<string, number>;
  /** Multi-host labs: each host, whether it answered. */
  hosts?: { name: string; address: string; nodes: string[]; reachable: boolean; error?: string }[];
}

export interface SysctlRow {
  node: string;
  name: string;
  value: SysctlValue;
}

export interface LinkChangeRequest extends DirChange {
  /** Which direction: out of the named end (egress), into it (ingress), or both (default). */
  dir?: 'both' | 'egress' | 'ingress';
  up?: boolean;
}

export interface NodeReport {
  node: string;
  report: AgentReport;
}

/**
 * The backend of a lab: namespaces, or — as soon as one node is a container — the Docker backend,
 * which runs container nodes and namespace nodes side by side (it attaches each container's
 * namespace under the node's usual name, so everything done through `ip -n` is shared).
 */
function backendFor(lab: string, nodes: readonly NodeModel[]): Backend {
  const vms = nodes.filter((n) => n.backend === 'vm');
  if (vms.length > 0)
    return new VmBackend({
      lab,
      vmNodes: vms,
      inner: backendFor(
        lab,
        nodes.filter((n) => n.backend !== 'vm'),
      ),
    });
  const containers = nodes.filter((n) => n.backend === 'docker');
  if (containers.length === 0) return new NetnsBackend();
  const def = readDefinition(projectRoot());
  return new DockerBackend({
    lab,
    dockerHandles: containers.map((n) => `mplab-${lab}-${n.name}`),
    image: imageTag(def),
    agentPath: def.agentPath,
  });
}

/** Docker nodes need a Docker engine and the node image (built here, offline, when missing). */
async function prepareDocker(model: LabModel, onStep: (p: UpProgress) => void): Promise<void> {
  if (!model.nodes.some((n) => n.backend === 'docker')) return;
  if (!(await dockerAvailable()))
    throw new UsageError(
      `lab '${model.name}' has Docker nodes, but no Docker engine answers on /var/run/docker.sock (start dockerd)`,
    );
  const t0 = now();
  onStep({ step: 'image', state: 'start' });
  await buildImage({ root: projectRoot() });
  onStep({ step: 'image', state: 'done', ms: now() - t0 });
}

const now = () => performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Emulator API, loaded lazily so a lab without emulated links never touches it. */
async function emulatorApi() {
  return import('./emulator/index');
}

export class Lab {
  private constructor(
    readonly name: string,
    private readonly backend: Backend,
    private stateSnapshot: LabState,
    /** Set for a lab spread over several hosts: this machine's state is its own share only. */
    private readonly cluster?: ClusterRecord,
  ) {}

  /** The lab's state as last read or written (a multi-host lab: this machine's share, backend 'remote'). */
  get state(): LabState {
    return this.cluster ? { ...this.stateSnapshot, backend: 'remote' } : this.stateSnapshot;
  }

  /** The hosts of a multi-host lab (undefined for a lab on this machine only). */
  get hosts(): ClusterRecord | undefined {
    return this.cluster;
  }

  /** This machine's share of a multi-host lab as a lab of its own (the lab itself otherwise). */
  localShare(): Lab {
    return this.cluster ? new Lab(this.name, this.backend, this.stateSnapshot) : this;
  }

  get model(): LabModel {
    if (this.cluster) return this.cluster.model;
    const m = this.stateSnapshot.model;
    if (!m)
      throw new RuntimeFailure(`lab '${this.name}' has no model in its state (it failed while starting)`);
    return m;
  }

  get dir(): string {
    return labDir(this.name);
  }

  // -------------------------------------------------------------------------------------------
  // up

  /** Builds a lab from a topology file (or an already loaded model). */
  static async up(file: string | LabModel, options: UpOptions = {}): Promise<Lab> {
    if (options.hosts !== undefined) {
      const { upCluster } = await import('./remote/cluster');
      return upCluster(file, { ...options, hosts: options.hosts });
    }
    const progress = options.onProgress ?? (() => {});
    const timings: Record<string, number> = {};
    let t0 = now();
    const step = async <T>(s: UpStep, count: number | undefined, fn: () => Promise<T> | T): Promise<T> => {
      const p: UpProgress = { step: s, state: 'start' };
      if (count !== undefined) p.count = count;
      if (options.signal?.aborted) throw new RuntimeFailure(`up interrupted before ${s}`);
      progress(p);
      t0 = now();
      const r = await fn();
      const ms = now() - t0;
      timings[s] = Math.round(ms * 10) / 10;
      const d: UpProgress = { step: s, state: 'done', ms };
      if (count !== undefined) d.count = count;
      progress(d);
      return r;
    };
    const overrides: { name?: string; backend?: string } = {};
    if (options.name !== undefined) overrides.name = options.name;
    if (options.backend !== undefined) overrides.backend = options.backend;
    const model =
      typeof file === 'string'
        ? await step('load', undefined, () => loadTopology(file, overrides))
        : { ...file, ...(options.name ? { name: options.name } : {}) };

    // Everything that can be checked without creating anything.
    const { backend, plans, script } = await step('check', undefined, () => Lab.check(model));
    await prepareDocker(model, progress);
    const nodes = new Map(model.nodes.map((n) => [n.name, n]));
    const handleOf = (n: string) => backend.handleOf(model.name, n);

    const sf = StateFile.create({ lab: model.name, backend: backend.kind, file: model.file, model });
    const lab = new Lab(model.name, backend, sf.state);
    const vmBackend = backend instanceof VmBackend ? backend : undefined;
    if (vmBackend) {
      vmBackend.attachState(sf);
      if (options.onVmBoot) vmBackend.onBoot = options.onVmBoot;
    }
    // A VM's agent starts after its boot, in a guest that may be emulated (TCG): give it longer.
    const agentTimeoutMs = options.agentTimeoutMs ?? (vmBackend ? 90_000 : undefined);
    try {
      const handles = model.nodes.map((n) => handleOf(n.name));
      await step('nodes', handles.length, async () => {
        sf.record((s) => s.namespaces.push(...handles));
        await backend.createNodes(handles);
      });
      if (vmBackend) {
        const vmCount = model.nodes.filter((n) => n.backend === 'vm').length;
        await step('boot', vmCount, () => vmBackend.waitReady());
      }

      // Agents start as soon as their namespaces exist: node boots (~100 ms) while links, addresses
      // and qdiscs are applied; readiness below waits for the ping and for the node's addresses.
      const tsNodes = model.nodes.filter((n) => n.stack === 'ts');
      const agentsStarted = tsNodes.map((n) => {
        const rec: ProcessRecord = {
          kind: 'agent',
          owner: n.name,
          ns: handleOf(n.name),
          socket: join(lab.dir, `${n.name}.sock`),
          log: join(lab.dir, `${n.name}.log`),
        };
        return rec;
      });
      const tAgents = now();
      if (script) {
        progress({ step: 'agents', state: 'start', count: tsNodes.length });
        sf.record((s) => s.processes.push(...agentsStarted));
        // All at once: a VM node's start waits on its guest (copy in, Node starting under TCG), and
        // every pid that did start is recorded before the first failure is thrown (down finds it).
        const starts = await Promise.allSettled(
          agentsStarted.map(async (rec, i) => {
            rec.pid = await spawnAgent(
              backend,
              {
                node: rec.owner,
                handle: rec.ns ?? '',
                socket: rec.socket ?? '',
                log: rec.log ?? '',
                phy: tsNodes[i]?.phy,
              },
              script,
            );
          }),
        );
        sf.save();
        const failed = starts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      }

      // A link crossing to another host (one host's share of a multi-host lab) is a VXLAN end here.
      const vxlans = model.links.filter((l) => l.vxlan !== undefined);
      const veths = model.links.filter((l) => plans.get(l.id)?.via !== 'emulator' && l.vxlan === undefined);
      const emulated = model.links.filter((l) => plans.get(l.id)?.via === 'emulator');
      sf.record((s) => {
        for (const l of model.links)
          s.links.push({ id: l.id, up: l.up, via: plans.get(l.id)?.via ?? 'none' });
      });
      await step('links', veths.length, async () => {
        const specs = veths.map((l) => wireSpecOf(l, handleOf, nodes));
        sf.record((s) => {
          for (const w of specs)
            s.veths.push({
              link: w.id,
              a: { ns: w.a.handle, ifname: w.a.ifname },
              b: { ns: w.b.handle, ifname: w.b.ifname },
            });
        });
        await backend.wireLinks(specs);
        await wireVxlans(vxlans, nodes, handleOf);
      });

      if (emulated.length > 0) {
        await step('emulator', emulated.length, async () => {
          const emu = await emulatorApi();
          const rec: ProcessRecord = {
            kind: 'emulator',
            owner: emulated.map((l) => l.id).join(','),
            socket: join(lab.dir, 'emulator.sock'),
          };
          sf.record((s) => s.processes.push(rec));
          const h = await emu.startEmulator({
            lab: model.name,
            stateDir: lab.dir,
            links: emulated.map((l) => {
              const w = wireSpecOf(l, handleOf, nodes);
              return {
                id: l.id,
                a: {
                  netns: w.a.handle,
                  ifname: w.a.ifname,
                  mtu: w.a.mtu,
                  ...(w.a.mac ? { mac: w.a.mac } : {}),
                },
                b: {
                  netns: w.b.handle,
                  ifname: w.b.ifname,
                  mtu: w.b.mtu,
                  ...(w.b.mac ? { mac: w.b.mac } : {}),
                },
                ab: l.ab,
                ba: l.ba,
                up: l.up,
              };
            }),
            onSpawn: (pid) => sf.record(() => (rec.pid = pid)),
          });
          sf.record(() => {
            rec.pid = h.pid;
            rec.log = h.log;
          });
        });
      }

      await step('configure', model.nodes.length, async () => {
        await backend.configureNodes(
          model.nodes.map((n) => ({
            node: n,
            handle: handleOf(n.name),
            // an emulated link stays administratively up: the emulator drops its frames and carrier
            downIfaces: downIfacesOf(n, model, (l) => plans.get(l.id)?.via !== 'emulator'),
          })),
        );
      });

      const kernelNodes = model.nodes.filter((n) => n.stack === 'kernel');
      if (kernelNodes.length > 0) {
        await parallel(kernelNodes, 4, async (n) => {
          const { sysctls, ipLines } = kernelConfig(n);
          const h = handleOf(n.name);
          // A VM's kernel is the guest's: its `ip mptcp` lines run there, over SSH.
          if (n.backend === 'vm')
            await backend.exec(h, ['ip', '-batch', '-'], { input: `${ipLines.join('\n')}\n` });
          else await ipBatch(h, ipLines);
          if (sysctls.length > 0) await backend.exec(h, ['sysctl', '-q', '-w', ...sysctls]);
        });
      }

      const shaped = [...veths, ...vxlans].filter((l) => plans.get(l.id)?.via === 'tc');
      await step('shaping', shaped.length, async () => {
        const perNs = new Map<string, string[]>();
        for (const l of shaped) {
          for (const [end, dir] of [
            [l.a, l.ab],
            [l.b, l.ba],
          ] as const) {
            if (!endIsHere(l, end === l.a ? 'a' : 'b')) continue; // the other host shapes its egress
            const lines = tcLines(end.iface, dir, l.mtu, plans.get(l.id)?.netem === true);
            if (lines[0]?.startsWith('qdisc del')) continue;
            const h = handleOf(end.node);
            perNs.set(h, [...(perNs.get(h) ?? []), ...lines]);
          }
        }
        await parallel([...perNs], 8, ([h, lines]) => backend.tc(h, lines));
      });

      if (script) {
        const clients = await Promise.all(
          agentsStarted.map(async (rec, i) => {
            const spec = {
              node: rec.owner,
              handle: rec.ns ?? '',
              socket: rec.socket ?? '',
              log: rec.log ?? '',
            };
            const c = await waitAgent(spec, rec.pid ?? 0, agentTimeoutMs);
            try {
              await waitAddresses(c, spec.node, upAddresses(tsNodes[i] as NodeModel, model), agentTimeoutMs);
            } catch (e) {
              await c.close();
              throw e;
            }
            return c;
          }),
        );
        const ms = now() - tAgents;
        timings.agents = Math.round(ms * 10) / 10;
        if (options.signal?.aborted) {
          await Promise.all(clients.map((c) => c.close()));
          throw new RuntimeFailure('up interrupted while the agents started');
        }
        progress({ step: 'agents', state: 'done', count: tsNodes.length, ms });
        try {
          await step('knobs', tsNodes.length, () =>
            Promise.all(tsNodes.map((n, i) => applyKnobs(clients[i] as AgentClient, n.name, n.knobs))),
          );
        } finally {
          await Promise.all(clients.map((c) => c.close()));
        }
      }
      await vmBackend?.close();
      sf.record((s) => {
        s.phase = 'up';
        s.timings = timings;
      });
      lab.stateSnapshot = sf.state;
      return lab;
    } catch (e) {
      await vmBackend?.close();
      sf.record((s) => (s.phase = 'failed'));
      await Lab.teardown(model.name).catch(() => {});
      if (e instanceof MplabError) throw e;
      throw new RuntimeFailure(`up failed: ${(e as Error).message} (everything built was removed)`);
    }
  }

  /** Pre-flight checks: nothing is created; failures are UsageErrors (exit 2). */
  private static async check(model: LabModel): Promise<{
    backend: Backend;
    plans: Map<string, LinkPlan & { netem: boolean }>;
    script: string | undefined;
  }> {
    if (typeof process.getuid === 'function' && process.getuid() !== 0)
      throw new UsageError('mplab up needs root (it creates network namespaces): run it with sudo');
    VmBackend.check(model);
    const backend = backendFor(model.name, model.nodes);
    if (existsSync(labDir(model.name)))
      throw new UsageError(
        `lab '${model.name}' already exists (${labDir(model.name)}); run 'mplab down ${model.name}' first`,
      );
    const existing = await backend.findAll(`mplab-${model.name}-`);
    const clash = model.nodes
      .map((n) => backend.handleOf(model.name, n.name))
      .filter((h) => existing.includes(h));
    if (clash.length > 0)
      throw new UsageError(
        `namespaces of lab '${model.name}' already exist (${clash.join(', ')}); run 'mplab down ${model.name}'`,
      );
    for (const n of model.nodes) {
      if (n.stack === 'ts' && n.phy === 'tun' && !existsSync('/dev/net/tun'))
        throw new UsageError(
          `node '${n.name}': phy 'tun' needs /dev/net/tun, which this machine does not have`,
        );
      if (n.stack === 'kernel' && n.backend !== 'vm' && !existsSync('/proc/sys/net/mptcp'))
        throw new UsageError(`node '${n.name}' asks for the kernel's MPTCP, which this kernel does not have`);
    }
    const netem = model.links.some((l) => l.needsNetem) ? await netemAvailable() : false;
    const plans = new Map<string, LinkPlan & { netem: boolean }>();
    let emulatorMissing: string | undefined;
    for (const l of model.links) {
      const p = planLink(l, netem);
      plans.set(l.id, { ...p, netem });
      if (p.via === 'emulator' && l.vxlan)
        throw new UsageError(
          `link ${l.id} crosses to host ${l.vxlan.peerHost}: ${p.reason}, and the userspace emulator bridges namespaces of one machine only; put both ends on one host`,
        );
      if (p.via === 'emulator' && emulatorMissing === undefined) {
        if (!(await emulatorPresent()))
          emulatorMissing = `link ${l.id}: ${p.reason}; the userspace link emulator (lab/emulator) is not available either`;
      }
    }
    if (emulatorMissing) throw new UsageError(emulatorMissing);
    const script = model.nodes.some((n) => n.stack === 'ts') ? agentScript() : undefined;
    return { backend, plans, script };
  }

  // -------------------------------------------------------------------------------------------
  // open, list, down

  /** Opens a running lab; without a name, the only lab that is up. */
  static open(name?: string): Lab {
    const lab = name ?? Lab.only();
    const state = readState(lab);
    if (!state) throw new UsageError(`no lab named '${lab}' (known: ${listLabs().join(', ') || 'none'})`);
    return new Lab(lab, backendFor(lab, state.model?.nodes ?? []), state, readClusterRecord(lab));
  }

  /** Names of the labs that have state on this machine. */
  static list(): string[] {
    return listLabs();
  }

  private static only(): string {
    const labs = listLabs();
    if (labs.length === 1) return labs[0] as string;
    if (labs.length === 0) throw new UsageError('no lab is up');
    throw new UsageError(`several labs are up (${labs.join(', ')}); name one`);
  }

  async down(): Promise<DownResult> {
    return Lab.teardown(this.name);
  }

  /** Removes a lab by name, from its state and whatever the host shows of it. Idempotent. */
  static async down(name?: string): Promise<DownResult> {
    // Without a name and with no lab at all there is nothing to do: that is success, not an error.
    if (name === undefined && listLabs().length === 0)
      return { lab: '', existed: false, namespaces: [], killed: [], ms: 0 };
    return Lab.teardown(name ?? Lab.only());
  }

  /**
   * Removes every mplab object on this machine: each lab with state, then whatever carries the
   * prefix without a lab to own it: namespaces `mplab-*` (and the processes inside them), processes
   * whose command line points into the run directory, and the run directory's other entries.
   * `filter` narrows all of it to names it accepts: lab names, and namespace names without their
   * `mplab-` prefix (tests use it to leave other labs on the machine alone).
   */
  static async downAll(
    filter?: (name: string) => boolean,
    options: { hosts?: string; acceptNewHostKeys?: boolean } = {},
  ): Promise<DownResult[]> {
    const keep = filter ?? (() => true);
    const out: DownResult[] = [];
    if (options.hosts !== undefined) {
      // Every host of the inventory first (what a crashed controller left there), then this machine.
      const { downAllHosts } = await import('./remote/cluster');
      const per = await downAllHosts(options.hosts, options);
      const failed = per.filter((p) => p.error);
      for (const p of per)
        for (const r of p.results ?? [])
          out.push({ ...r, lab: `${r.lab === '*' ? 'stray mplab objects' : r.lab} on host ${p.host}` });
      out.push(...(await Lab.downAll(filter)));
      if (failed.length > 0)
        throw new RuntimeFailure(
          `down --all: ${failed.map((f) => f.error).join('; ')} (the other hosts and this machine were cleaned)`,
        );
      return out;
    }
    for (const lab of listLabs()) if (keep(lab)) out.push(await Lab.teardown(lab));
    const t0 = now();
    const backend = new NetnsBackend();
    const stray = (await backend.findAll('mplab-')).filter((h) => keep(h.slice('mplab-'.length)));
    const markers = filter
      ? readdirSafe(runDir())
          .filter(keep)
          .map((e) => `${join(runDir(), e)}/`)
      : [`${runDir()}/`];
    const killed = await killAll([
      ...(await pidsIn(backend, stray)),
      ...markers.flatMap((m) => scanProcesses(m)),
    ]);
    const strayContainers = await allLabContainers(undefined, keep);
    await removeContainers(strayContainers);
    await backend.destroy(stray);
    const files = readdirSafe(runDir()).filter(keep);
    for (const f of files) rmSync(join(runDir(), f), { recursive: true, force: true });
    if (stray.length > 0 || killed.length > 0 || files.length > 0 || strayContainers.length > 0)
      out.push({ lab: '*', existed: true, namespaces: stray, killed, ms: now() - t0 });
    return out;
  }

  private static async teardown(lab: string, localOnly = false): Promise<DownResult> {
    const t0 = now();
    const cluster = localOnly ? undefined : readClusterRecord(lab);
    if (cluster) {
      // The other hosts' shares first; if a host cannot be reached, keep its part of the record so
      // `down` can be run again once it answers.
      const { teardownRemote } = await import('./remote/cluster');
      const failed = await teardownRemote(cluster);
      const local = await Lab.teardown(lab, true).catch((e: Error) => e);
      if (failed.length > 0) {
        const { writeClusterRecord } = await import('./remote/record');
        const { mkdirSync } = await import('node:fs');
        mkdirSync(labDir(lab), { recursive: true, mode: 0o700 });
        writeClusterRecord({
          ...cluster,
          hosts: cluster.hosts.filter((h) => failed.some((f) => f.host === h.name)),
        });
        throw new RuntimeFailure(
          `down ${lab}: ${failed.map((f) => f.error).join('; ')}; the rest is removed, run 'mplab down ${lab}' again when the host answers`,
        );
      }
      if (local instanceof Error) throw local;
      return { ...local, ms: now() - t0 };
    }
    const state = readState(lab);
    // Down never depends on a backend being available in this build: everything is handled as
    // namespaces (the docker backend attaches a container's namespace under the same name; its
    // containers are for that backend to remove, when it is wired into up).
    const backend: Backend = new NetnsBackend();
    const others = new Set(listLabs().filter((l) => l !== lab));
    const namespaces = new Set(state?.namespaces ?? []);
    for (const n of state?.model?.nodes ?? []) namespaces.add(backend.handleOf(lab, n.name));
    if (!state) {
      // No state (never written, or removed by hand): take what carries this lab's prefix and belongs
      // to no other lab with state.
      for (const h of await backend.findAll(`mplab-${lab}-`)) {
        const owner = [...others].find((o) => h.startsWith(`mplab-${o}-`) && o.length > lab.length);
        if (!owner) namespaces.add(h);
      }
    }
    const present = new Set(await backend.findAll('mplab-'));
    const nsList = [...namespaces].filter((h) => present.has(h));
    // Ask Docker only when this lab may have containers (a netns lab's down stays fast).
    const mayHaveContainers = !state?.model || state.model.nodes.some((n) => n.backend === 'docker');
    const containers = mayHaveContainers ? await allLabContainers(lab) : [];
    const existed =
      state !== undefined || nsList.length > 0 || containers.length > 0 || existsSync(labDir(lab));
    if (!existed) return { lab, existed: false, namespaces: [], killed: [], ms: now() - t0 };

    // Processes: those recorded, those inside the namespaces, those pointing into the lab dir.
    const dir = labDir(lab);
    const pids = new Set<number>();
    for (const p of state?.processes ?? []) {
      if (p.pid !== undefined && processMatches(p.pid, `${dir}/`)) pids.add(p.pid);
    }
    for (const pid of await pidsIn(backend, nsList)) pids.add(pid);
    // Processes outside the nodes (the emulator) are found by their recorded pid; only when one was
    // recorded without a pid (killed between spawn and record) or there is no state at all, look
    // for command lines pointing into the lab dir (slower: reading a busy process's cmdline waits).
    if (!state || state.processes.some((p) => p.pid === undefined && p.ns === undefined))
      for (const pid of scanProcesses(`${dir}/`)) pids.add(pid);
    const emulators = (state?.processes ?? []).filter((p) => p.kind === 'emulator');
    if (emulators.length > 0) {
      const emu = await emulatorApi().catch(() => undefined);
      await Promise.all(
        emulators.map((p) => emu?.stopEmulator(p.socket ?? p.pid ?? 0, 1000).catch(() => {})),
      );
    }
    const killed = await killAll([...pids]);
    // Containers go before their attached namespaces (found by label, whatever the state says).
    await removeContainers(mayHaveContainers ? await allLabContainers(lab) : []);
    await backend.destroy(nsList);
    for (const f of state?.files ?? []) rmSync(f, { force: true });
    removeLabDir(lab);
    return { lab, existed: true, namespaces: nsList, killed, ms: now() - t0 };
  }

  // -------------------------------------------------------------------------------------------
  // status

  private node(name: string): NodeModel {
    const n = this.model.nodes.find((x) => x.name === name);
    if (!n)
      throw new UsageError(
        `lab '${this.name}' has no node '${name}' (nodes: ${this.model.nodes.map((x) => x.name).join(', ')})`,
      );
    return n;
  }

  private handle(node: string): string {
    return this.backend.handleOf(this.name, node);
  }

  private agentRecord(node: string): ProcessRecord | undefined {
    return this.state.processes.find((p) => p.kind === 'agent' && p.owner === node);
  }

  private agentSocket(node: string): string {
    const n = this.node(node);
    if (n.stack !== 'ts')
      throw new UsageError(`node '${node}' runs stack '${n.stack}', not ours: it has no agent`);
    const rec = this.agentRecord(node);
    if (!rec?.socket) throw new RuntimeFailure(`node '${node}' has no agent recorded`);
    return rec.socket;
  }

  /** The serial console socket of a VM node (what `mplab console` attaches to). */
  vmConsole(node: string): string {
    const n = this.node(node);
    const rec = this.state.processes.find((p) => p.kind === 'vm' && p.owner === node);
    if (n.backend !== 'vm' || !rec?.vm)
      throw new UsageError(`node '${node}' is not a VM (backend: ${n.backend})`);
    if (vmStatusOf(rec, this.dir).state === 'dead')
      throw new RuntimeFailure(`VM node '${node}' is not running`);
    return rec.vm.console;
  }

  /**
   * Starts the agent bundle with `args` in a VM node's guest, its stdio streamed over SSH: how a
   * run's kernel end runs where the guest's kernel is the one that counts.
   */
  async guestAgentProcess(node: string, args: string[]): Promise<StreamProcess> {
    const n = this.node(node);
    if (n.backend !== 'vm' || !(this.backend instanceof VmBackend))
      throw new UsageError(`node '${node}' is not a VM (backend: ${n.backend})`);
    return this.backend.agentBundleProcess(this.handle(node), args);
  }

  /** The agent process of a `stack: ts` node as the lab recorded it (for liveness checks). */
  agentProcess(node: string): { socket: string; pid?: number; deadlineMs?: number } {
    // a remote node's agent is a process on its host: only its control connection and heartbeat
    // can be watched from here (a local pid check would look at an unrelated process)
    if (this.cluster && this.cluster.hostOf[node] !== 'local') return { socket: '' };
    const socket = this.agentSocket(node);
    const pid = this.agentRecord(node)?.pid;
    const out: { socket: string; pid?: number; deadlineMs?: number } = { socket };
    if (pid !== undefined) out.pid = pid;
    // A VM's agent answers through the relay, SSH and an emulated CPU (TCG on a loaded machine):
    // seconds without a reply there are load. A dead VM still fails a run at once (the relay's
    // SSH session drops and closes the control connection).
    if (this.node(node).backend === 'vm')
      out.deadlineMs = Math.max(heartbeatDeadlineMs(), VM_HEARTBEAT_DEADLINE_MS);
    return out;
  }

  /** A connected client to a node's agent (the caller closes it); over SSH for a remote node. */
  async agent(node: string): Promise<AgentClient> {
    if (this.cluster && this.cluster.hostOf[node] !== 'local') {
      const n = this.node(node);
      if (n.stack !== 'ts')
        throw new UsageError(`node '${node}' runs stack '${n.stack}', not ours: it has no agent`);
      const { remoteAgent } = await import('./remote/cluster');
      return remoteAgent(this.cluster, node);
    }
    return connectAgent(this.agentSocket(node));
  }

  /** Runs `fn` with a client to a node's agent, always closing it. */
  private async withNodeAgent<T>(node: string, fn: (c: AgentClient) => Promise<T>): Promise<T> {
    if (!this.cluster) return withAgent(this.agentSocket(node), fn);
    const c = await this.agent(node);
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  }

  async status(): Promise<LabStatus> {
    if (this.cluster) {
      const { clusterStatus } = await import('./remote/cluster');
      return clusterStatus(this, this.cluster);
    }
    const s = this.state;
    const model = this.model;
    const present = new Set(await this.backend.findAll(`mplab-${this.name}-`));
    const live = model.nodes.filter((n) => present.has(this.handle(n.name)));
    const byHandle = await countersOf(live.map((n) => this.handle(n.name)));
    const counters = new Map<string, Map<string, IfaceCounters>>();
    for (const n of live) counters.set(n.name, byHandle.get(this.handle(n.name)) ?? new Map());
    const nodes: NodeStatus[] = await Promise.all(
      model.nodes.map(async (n): Promise<NodeStatus> => {
        const h = this.handle(n.name);
        const st: NodeStatus = {
          name: n.name,
          kind: n.kind,
          stack: n.stack,
          handle: h,
          exists: present.has(h),
          addresses: n.addresses,
        };
        const vmRec = s.processes.find((p) => p.kind === 'vm' && p.owner === n.name);
        if (vmRec?.vm) st.vm = vmStatusOf(vmRec, this.dir);
        const rec = this.agentRecord(n.name);
        if (rec?.socket) {
          const alive = rec.pid !== undefined && processMatches(rec.pid, rec.socket);
          const a: NonNullable<NodeStatus['agent']> = { socket: rec.socket, alive, answers: false };
          if (rec.pid !== undefined) a.pid = rec.pid;
          if (alive) {
            try {
              const v = await withAgent(rec.socket, (c) => c.call('version', undefined, { timeoutMs: 2000 }));
              a.answers = true;
              a.core = v.core;
            } catch (e) {
              a.error = (e as Error).message;
            }
          }
          st.agent = a;
        }
        return st;
      }),
    );
    const emuStats = new Map<string, { ab: EmuDirStats; ba: EmuDirStats }>();
    const emuRec = s.processes.find((p) => p.kind === 'emulator');
    if (emuRec?.socket && emuRec.pid !== undefined && processMatches(emuRec.pid, 'emulator')) {
      try {
        const st = await (await emulatorApi()).stats(emuRec.socket);
        for (const l of st.links) emuStats.set(l.id, { ab: l.ab, ba: l.ba });
      } catch {
        // not answering: status shows it as not running below
      }
    }
    const links: LinkStatus[] = model.links.map((l) => {
      const applied = s.links.find((x) => x.id === l.id);
      const c: LinkStatus['counters'] = {};
      const ca = counters.get(l.a.node)?.get(l.a.iface);
      const cb = counters.get(l.b.node)?.get(l.b.iface);
      if (ca) c.a = ca;
      if (cb) c.b = cb;
      const out: LinkStatus = {
        id: l.id,
        a: `${l.a.node}:${l.a.iface}`,
        b: `${l.b.node}:${l.b.iface}`,
        up: applied?.up ?? l.up,
        via: applied?.via ?? 'none',
        ab: l.ab,
        ba: l.ba,
        counters: c,
      };
      const es = emuStats.get(l.id);
      if (es) out.emulator = es;
      return out;
    });
    const out: LabStatus = {
      lab: this.name,
      file: s.file,
      backend: s.backend,
      phase: s.phase,
      createdAt: s.createdAt,
      nodes,
      links,
    };
    if (s.timings) out.timings = s.timings;
    const emu = s.processes.find((p) => p.kind === 'emulator');
    if (emu) {
      out.emulator = { alive: emu.pid !== undefined && processMatches(emu.pid, 'emulator') };
      if (emu.pid !== undefined) out.emulator.pid = emu.pid;
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // exec, sysctl, report

  /**
   * Runs a command inside a node: an argv array, or a string run by `sh -c`. With stdio 'inherit'
   * the output goes to the terminal. Resolves with the exit code (never rejects on a non-zero one).
   */
  async exec(
    node: string,
    cmd: string[] | string,
    options: { stdio?: 'pipe' | 'inherit'; input?: string; timeoutMs?: number } = {},
  ): Promise<CommandResult> {
    this.node(node);
    const argv = typeof cmd === 'string' ? ['sh', '-c', cmd] : cmd;
    if (argv.length === 0 || argv[0] === '') throw new UsageError('exec: no command given');
    if (this.cluster && this.cluster.hostOf[node] !== 'local') {
      const { remoteExec } = await import('./remote/cluster');
      return remoteExec(this.cluster, node, argv, options);
    }
    return this.backend.exec(this.handle(node), argv, { ...options, allowFail: true });
  }

  /**
   * Reads or writes knobs. `target` is a node or 'all' (every `stack: ts` node). Each assignment is
   * `name` (read), `name=value` (write); none lists every knob.
   */
  async sysctl(target: string, assignments: string[] = []): Promise<SysctlRow[]> {
    const single = target === 'all' ? undefined : this.node(target);
    if (single?.stack === 'kernel') return this.kernelSysctl(single, assignments);
    if (single && single.stack !== 'ts')
      throw new UsageError(`node '${single.name}' runs no stack (stack: ${single.stack}): it has no knobs`);
    const nodes = single ? [single] : this.model.nodes.filter((n) => n.stack === 'ts');
    if (nodes.length === 0) throw new UsageError(`lab '${this.name}' has no node running our stack`);
    const ops = assignments.map((a) => {
      const eq = a.indexOf('=');
      if (eq === 0) throw new UsageError(`bad knob assignment '${a}'`);
      if (eq < 0) return { name: a.trim() };
      const raw = a.slice(eq + 1).trim();
      const value: SysctlValue = /^-?\d+$/.test(raw) ? Number(raw) : raw;
      return { name: a.slice(0, eq).trim(), value };
    });
    const rows: SysctlRow[][] = await Promise.all(
      nodes.map((n) =>
        this.withNodeAgent(n.name, async (c) => {
          if (ops.length === 0) {
            const { knobs } = await c.call('sysctl.list');
            return knobs.map((k) => ({ node: n.name, name: k.name, value: k.value }));
          }
          const out: SysctlRow[] = [];
          for (const op of ops) {
            try {
              const r =
                op.value === undefined
                  ? await c.call('sysctl.get', { name: op.name })
                  : await c.call('sysctl.set', { name: op.name, value: op.value });
              out.push({ node: n.name, name: r.name, value: r.value });
            } catch (e) {
              throw new UsageError(`${n.name}: ${(e as Error).message}`);
            }
          }
          return out;
        }),
      ),
    );
    return rows.flat();
  }

  /** Kernel sysctls of a `stack: kernel` node (our knob names mapped where the kernel's differ). */
  private async kernelSysctl(node: NodeModel, assignments: string[]): Promise<SysctlRow[]> {
    const h = this.handle(node.name);
    const names = assignments.length > 0 ? assignments : ['net.mptcp'];
    const out: SysctlRow[] = [];
    for (const a of names) {
      const eq = a.indexOf('=');
      const rawName = (eq < 0 ? a : a.slice(0, eq)).trim();
      const name = KERNEL_RENAMED[rawName] ?? rawName;
      const args = eq < 0 ? [name] : ['-w', `${name}=${a.slice(eq + 1).trim()}`];
      const r = await this.backend.exec(h, ['sysctl', ...args], { allowFail: true });
      if (r.code !== 0)
        throw new UsageError(`${node.name}: ${r.stderr.trim() || `sysctl ${args.join(' ')} failed`}`);
      for (const line of r.stdout.split('\n')) {
        const m = /^(\S+)\s*=\s*(.*)$/.exec(line.trim());
        if (m)
          out.push({
            node: node.name,
            name: m[1] as string,
            value: /^-?\d+$/.test(m[2] as string) ? Number(m[2]) : (m[2] as string),
          });
      }
    }
    return out;
  }

  /** The state report of one node's stack, or of every `stack: ts` node. */
  async report(node?: string): Promise<NodeReport[]> {
    const nodes = node ? [this.node(node)] : this.model.nodes.filter((n) => n.stack === 'ts');
    return Promise.all(
      nodes.map(async (n) => ({
        node: n.name,
        report: await this.withNodeAgent(n.name, (c) => c.call('report')),
      })),
    );
  }

  // -------------------------------------------------------------------------------------------
  // links

  /** Resolves `node:iface` to its link and which end it is. */
  endpoint(spec: string): { link: LinkModel; end: 'a' | 'b'; node: NodeModel; iface: string } {
    const i = spec.lastIndexOf(':');
    if (i <= 0 || i === spec.length - 1)
      throw new UsageError(`'${spec}' is not an endpoint (expected node:iface, e.g. a:eth1)`);
    const nodeName = spec.slice(0, i);
    const iface = spec.slice(i + 1);
    const node = this.node(nodeName);
    if (!node.interfaces.some((x) => x.name === iface))
      throw new UsageError(
        `node '${nodeName}' has no interface '${iface}' (has: ${node.interfaces.map((x) => x.name).join(', ')})`,
      );
    const link = this.model.links.find(
      (l) => (l.a.node === nodeName && l.a.iface === iface) || (l.b.node === nodeName && l.b.iface === iface),
    );
    if (!link) throw new UsageError(`no link at ${spec}`);
    return { link, end: link.a.node === nodeName && link.a.iface === iface ? 'a' : 'b', node, iface };
  }

  /** Changes a link at run time: rate/delay/jitter/loss of one or both directions, and up/down. */
  async link(spec: string, change: LinkChangeRequest): Promise<LinkStatus> {
    const { link, end } = this.endpoint(spec);
    if (this.cluster) {
      const { clusterLink } = await import('./remote/cluster');
      return clusterLink(this, this.cluster, link.id, end, change);
    }
    await this.changeLink(link.id, end, change);
    const st = await this.status();
    return st.links.find((l) => l.id === link.id) as LinkStatus;
  }

  /**
   * Applies a link change seen from `end` of link `id` to the parts of the link on this machine
   * (in one host's share of a multi-host lab, the far end of a cross-host link is the other host's).
   */
  async changeLink(id: string, end: 'a' | 'b', change: LinkChangeRequest): Promise<void> {
    const link = this.model.links.find((l) => l.id === id);
    if (!link) throw new UsageError(`lab '${this.name}' has no link ${id}`);
    const sf = StateFile.open(this.name);
    if (!sf) throw new RuntimeFailure(`lab '${this.name}' lost its state`);
    const applied = sf.state.links.find((l) => l.id === link.id);
    const stored = sf.state.model?.links.find((l) => l.id === link.id);
    if (!applied || !stored) throw new RuntimeFailure(`link ${link.id} is not in the lab state`);
    const dirs: ('ab' | 'ba')[] = [];
    const d = change.dir ?? 'both';
    const egress = end === 'a' ? 'ab' : 'ba';
    const ingress = end === 'a' ? 'ba' : 'ab';
    if (d === 'both' || d === 'egress') dirs.push(egress);
    if (d === 'both' || d === 'ingress') dirs.push(ingress);
    const paramChange = (['rateMbps', 'delayMs', 'jitterMs', 'lossPct'] as const).some(
      (k) => change[k] !== undefined,
    );

    if (paramChange) {
      const next = { ab: stored.ab, ba: stored.ba };
      for (const dir of dirs) next[dir] = applyChange(stored[dir], change);
      if (applied.via === 'emulator') {
        const emu = await emulatorApi();
        const socket = this.emulatorSocket();
        for (const dir of dirs) await emu.setLink(socket, link.id, dir, next[dir], true);
      } else {
        const netem = await netemAvailable();
        for (const dir of dirs) {
          const miss = netemParams(next[dir]);
          if (miss.length > 0 && !netem)
            throw new UsageError(
              `link ${link.id}: ${miss.join(', ')} need the kernel module sch_netem, which this kernel does not have; ` +
                `this link runs on plain veth — declare it with 'emulator: true' (or a delay) in the topology to change it at run time`,
            );
        }
        await Promise.all(
          dirs
            .filter((dir) => endIsHere(link, dir === 'ab' ? 'a' : 'b'))
            .map((dir) => {
              const e = dir === 'ab' ? link.a : link.b;
              return this.backend.tc(
                this.handle(e.node),
                runtimeTcLines(e.iface, stored[dir], next[dir], link.mtu, netem),
                true,
              );
            }),
        );
        applied.via = (['ab', 'ba'] as const).some((k) => Object.keys(next[k]).length > 0) ? 'tc' : 'none';
      }
      stored.ab = next.ab;
      stored.ba = next.ba;
    }
    if (change.up !== undefined) {
      if (applied.via === 'emulator') {
        const emu = await emulatorApi();
        await emu.linkUpDown(this.emulatorSocket(), link.id, change.up);
      } else {
        const model = this.model;
        await Promise.all(
          ([link.a, link.b] as const)
            .filter((e) => endIsHere(link, e === link.a ? 'a' : 'b'))
            .map((e) => {
              const n = model.nodes.find((x) => x.name === e.node) as NodeModel;
              return this.backend.setIfaceUp(this.handle(e.node), n, e.iface, change.up as boolean);
            }),
        );
      }
      applied.up = change.up;
    }
    sf.save();
    this.stateSnapshot = sf.state;
  }

  private emulatorSocket(): string {
    const rec = this.state.processes.find((p) => p.kind === 'emulator');
    if (!rec?.socket) throw new RuntimeFailure(`lab '${this.name}' has no emulator running`);
    return rec.socket;
  }

  // -------------------------------------------------------------------------------------------
  // capture

  /**
   * Captures on `node:iface` (or on every interface: `node`) into a pcap file with dumpcap; with
   * `stack: true`, inside the node's stack through its agent (see lab/capture.ts).
   */
  async capture(spec: string, file: string, options: CaptureOptions = {}): Promise<CaptureHandle> {
    const ep = parseNodeEndpoint(this.model, spec, 'capture', ['any', 'lo']);
    const nodeName = ep.node.name;
    const iface = ep.iface ?? 'any';
    if (options.stack) {
      if (options.filter || options.packets !== undefined || options.snaplen !== undefined)
        throw new UsageError('capture --stack takes no filter, packet count or snaplen');
      return startStackCapture(await this.agent(nodeName), file, options);
    }
    const host = this.cluster?.hostOf[nodeName];
    if (this.cluster && host !== undefined && host !== 'local') {
      const { startRemoteCapture } = await import('./remote/capture');
      const { hostsOf } = await import('./remote/cluster');
      return startRemoteCapture(hostsOf(this.cluster), host, this.handle(nodeName), iface, file, options);
    }
    return startCapture(this.handle(nodeName), iface, file, options);
  }

  // -------------------------------------------------------------------------------------------
  // traffic (issue 8; the work is in lab/run/)

  /**
   * A bulk transfer from `spec.from` to `spec.to` (our stack through the agents, or with
   * `stack: 'kernel' | 'tcp'` the kernel's MPTCP or TCP), SHA-256 checked end to end, with
   * `spec.events` applied on time. Resolves with the RunResult (integrity "ok" or what went wrong).
   */
  async run(spec: TrafficSpec, options: TrafficOptions = {}): Promise<TrafficResult> {
    const { runTraffic } = await import('./run/index');
    return (await runTraffic(this, spec, options)).result;
  }
}

/** A VM's state from its record: dead once its QEMU is gone, ready once SSH answered. */
export function vmStatusOf(rec: ProcessRecord, dir: string): VmStatus {
  const vm = rec.vm as NonNullable<ProcessRecord['vm']>;
  const up = rec.pid !== undefined && processMatches(rec.pid, `${dir}/`);
  const out: VmStatus = {
    state: !up ? 'dead' : vm.readyAt ? 'ready' : 'booting',
    accel: vm.accel,
    memoryMib: vm.memoryMib,
    cpus: vm.cpus,
    sshPort: vm.sshPort,
    console: vm.console,
    serial: vm.serial,
  };
  if (rec.pid !== undefined) out.pid = rec.pid;
  if (up && vm.startedAt) out.uptimeMs = Date.now() - Date.parse(vm.startedAt);
  return out;
}

/** The heartbeat deadline of a VM node's agent (see agentProcess). */
export const VM_HEARTBEAT_DEADLINE_MS = 10_000;

/** Our knob names that mean the same thing under another name in the kernel's MPTCP. */
const KERNEL_RENAMED: Record<string, string> = {
  'net.mptcp.mptcp_enabled': 'net.mptcp.enabled',
  'net.mptcp.mptcp_checksum': 'net.mptcp.checksum_enabled',
};

/**
 * How a `stack: kernel` node is set up: its knobs as kernel sysctls (renamed where the kernel's
 * name differs), and `ip mptcp` lines: every address an endpoint that is announced (signal) and opens subflows, and limits
 * that let the in-kernel path manager use them. `net.mptcp.mptcp_ndiffports` maps to the subflow
 * limit (the kernel has no ndiffports path manager; this is the nearest it offers).
 */
export function kernelConfig(node: NodeModel): { sysctls: string[]; ipLines: string[] } {
  const sysctls: string[] = [];
  // room for a fullmesh peer's joins to every address pair (the kernel counts a join from its SYN
  // on, also one whose answer the lab cannot route back), not just one per local address
  let subflows = Math.min(8, Math.max(2, 2 * node.addresses.length));
  for (const [k, v] of Object.entries(node.knobs)) {
    if (k === 'net.mptcp.mptcp_ndiffports') subflows = Math.min(8, Math.max(0, Number(v)));
    else sysctls.push(`${KERNEL_RENAMED[k] ?? k}=${v}`);
  }
  const ipLines = [
    'mptcp endpoint flush',
    `mptcp limits set subflows ${subflows} add_addr_accepted ${subflows}`,
  ];
  for (const i of node.interfaces)
    for (const a of i.addresses) ipLines.push(`mptcp endpoint add ${a.address} dev ${i.name} signal subflow`);
  return { sysctls, ipLines };
}

/** A node's addresses on interfaces whose link starts up: what its agent must see before it is ready. */
function upAddresses(n: NodeModel, model: LabModel): string[] {
  const down = downIfacesOf(n, model, () => true);
  return n.interfaces.filter((i) => !down.has(i.name)).flatMap((i) => i.addresses.map((a) => a.address));
}

/** Interfaces of a node on links that start down (among the links `which` accepts). */
function downIfacesOf(n: NodeModel, model: LabModel, which: (l: LinkModel) => boolean): Set<string> {
  const out = new Set<string>();
  for (const l of model.links) {
    if (l.up || !which(l)) continue;
    if (l.a.node === n.name) out.add(l.a.iface);
    if (l.b.node === n.name) out.add(l.b.iface);
  }
  return out;
}

let emulatorPresence: boolean | undefined;
/** Whether the emulator module is in this build (it lands with its own issue). */
async function emulatorPresent(): Promise<boolean> {
  if (emulatorPresence === undefined) {
    try {
      const m = await emulatorApi();
      emulatorPresence = typeof m.startEmulator === 'function';
      if (emulatorPresence) m.emulatorCommand();
    } catch {
      emulatorPresence = false;
    }
  }
  return emulatorPresence;
}

async function pidsIn(backend: Backend, handles: string[]): Promise<number[]> {
  if (backend.pidsOf) return backend.pidsOf(handles);
  const out: number[] = [];
  await parallel(handles, 8, async (h) => {
    out.push(...(await backend.pids(h)));
  });
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Pids of processes (other than this one) whose command line contains `marker`. */
export function scanProcesses(marker: string): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    const c = e.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(marker)) out.push(pid);
    } catch {
      // gone
    }
  }
  return out;
}

/** SIGTERM, up to 300 ms to exit, then SIGKILL. Returns the pids signalled. */
async function killAll(pids: number[]): Promise<number[]> {
  const set = [...new Set(pids)].filter((p) => p !== process.pid && p > 1);
  for (const p of set) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = now() + 300;
  while (set.some(running) && now() < deadline) await sleep(5);
  for (const p of set.filter(running)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const hard = now() + 1000;
  while (set.some(running) && now() < hard) await sleep(5);
  return set;
}

/** Interface counters of a namespace from `ip -s -j link show`. */
type LinkJson = {
  ifname: string;
  operstate?: string;
  flags?: string[];
  stats64?: {
    rx: { bytes: number; packets: number; dropped: number };
    tx: { bytes: number; packets: number; dropped: number };
  };
};
type QdiscJson = {
  dev?: string;
  drops?: number;
  overlimits?: number;
  backlog?: number;
  packets?: number;
  root?: boolean;
};

/** Interface counters of one namespace from `ip -s -j link show` and `tc -s -j qdisc show` output. */
export function parseCounters(linkJson: string, qdiscJson: string): Map<string, IfaceCounters> {
  const out = new Map<string, IfaceCounters>();
  const qd = new Map<string, NonNullable<IfaceCounters['qdisc']>>();
  if (qdiscJson.trim()) {
    for (const x of JSON.parse(qdiscJson) as QdiscJson[]) {
      if (!x.dev) continue;
      const cur = qd.get(x.dev) ?? { drops: 0, overlimits: 0, backlog: 0, packets: 0 };
      cur.drops += x.drops ?? 0;
      cur.overlimits += x.overlimits ?? 0;
      cur.backlog += x.backlog ?? 0;
      if (x.root) cur.packets = x.packets ?? 0;
      qd.set(x.dev, cur);
    }
  }
  for (const j of JSON.parse(linkJson) as LinkJson[]) {
    const st = j.stats64;
    const c: IfaceCounters = {
      rxBytes: st?.rx.bytes ?? 0,
      rxPackets: st?.rx.packets ?? 0,
      txBytes: st?.tx.bytes ?? 0,
      txPackets: st?.tx.packets ?? 0,
      rxDropped: st?.rx.dropped ?? 0,
      txDropped: st?.tx.dropped ?? 0,
      operUp: j.operstate === 'UP' || (j.flags?.includes('LOWER_UP') ?? false),
    };
    const q = qd.get(j.ifname);
    if (q) c.qdisc = q;
    out.set(j.ifname, c);
  }
  return out;
}

async function ifaceCounters(handle: string): Promise<Map<string, IfaceCounters>> {
  const [l, q] = await Promise.all([
    run('ip', ['-n', handle, '-s', '-j', 'link', 'show'], { allowFail: true }),
    run('tc', ['-n', handle, '-s', '-j', 'qdisc', 'show'], { allowFail: true }),
  ]);
  if (l.code !== 0) return new Map();
  return parseCounters(l.stdout, q.code === 0 ? q.stdout : '');
}

/**
 * Counters of many namespaces with one root `ip -batch` (each line a `netns exec NS ip|tc …`, one
 * JSON document per output line) instead of two processes per node; falls back to one namespace at
 * a time when the output does not line up (a namespace vanished meanwhile).
 */
async function countersOf(handles: string[]): Promise<Map<string, Map<string, IfaceCounters>>> {
  const out = new Map<string, Map<string, IfaceCounters>>();
  if (handles.length === 0) return out;
  // two batches side by side (two cores)
  const half = handles.length >> 1;
  const parts = handles.length >= 8 ? [handles.slice(0, half), handles.slice(half)] : [handles];
  const ok = await Promise.all(
    parts.map(async (part) => {
      const lines = part.flatMap((h) => [
        `netns exec ${h} ip -s -j link show`,
        `netns exec ${h} tc -s -j qdisc show`,
      ]);
      const r = await run('ip', ['-force', '-batch', '-'], {
        input: `${lines.join('\n')}\n`,
        allowFail: true,
      });
      const docs = r.stdout.split('\n').filter((l) => l.startsWith('['));
      if (r.code !== 0 || docs.length !== lines.length) return false;
      try {
        for (const [i, h] of part.entries())
          out.set(h, parseCounters(docs[2 * i] as string, docs[2 * i + 1] as string));
        return true;
      } catch {
        return false;
      }
    }),
  );
  if (ok.every(Boolean)) return out;
  out.clear();
  await parallel(handles, 8, async (h) => {
    out.set(h, await ifaceCounters(h));
  });
  return out;
}
