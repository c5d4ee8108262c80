import { existsSync, readFileSync } from 'node:fs';
import type { AgentClient } from '../../stack/agent/client';
import { MplabError, RuntimeFailure, UsageError } from '../errors';
import type { CommandResult } from '../exec';
import { run } from '../exec';
import type { DownResult, LabStatus, LinkChangeRequest, LinkStatus, NodeStatus, UpOptions } from '../lab';
import { Lab } from '../lab';
import { labDir, removeLabDir } from '../state';
import type { LabModel } from '../topology/model';
import { connectRemoteAgent } from './agentrpc';
import { type HostFacts, type HostOp, handle, type ProbeTunnel } from './hostside';
import { type HostSpec, type Inventory, LOCAL_HOST, loadInventory } from './inventory';
import { place, VXLAN_OVERHEAD_V4, VXLAN_OVERHEAD_V6, vniOf } from './placement';
import { type ClusterPlan, planCluster, shareOf } from './plan';
import { checkHost, deploy } from './deploy';
import { SshPool } from './pool';
import { type ClusterHostRecord, type ClusterRecord, readClusterRecord, writeClusterRecord } from './record';
import { HostKeyMismatchError, SshError, type SshStream, shellQuote } from './ssh';

export interface ClusterUpOptions extends UpOptions {
  /** The inventory file. */
  hosts: string;
  acceptNewHostKeys?: boolean;
  /** Told about each host key accepted without a pin (to print it for pinning). */
  onNewHostKey?: (host: string, key: string, fingerprint: string) => void;
}

/** The hosts of a lab, reached over pooled SSH sessions; `local` is served in-process. */
export class HostSet {
  readonly pool: SshPool;
  private readonly recs = new Map<string, ClusterHostRecord>();

  constructor(
    hosts: ClusterHostRecord[],
    keyOf: (h: ClusterHostRecord) => Buffer,
    opts: {
      acceptNewHostKeys?: boolean;
      onNewHostKey?: (host: string, key: string, fp: string) => void;
    } = {},
  ) {
    for (const h of hosts) this.recs.set(h.name, h);
    const targets = new Map(
      hosts.map((h) => [
        h.name,
        {
          host: h.address,
          port: h.port,
          user: h.user,
          privateKey: keyOf(h),
          hostKey: h.hostKeys,
          label: `host ${h.name}`,
        },
      ]),
    );
    this.pool = new SshPool(targets, {
      acceptNewHostKey: opts.acceptNewHostKeys === true,
      timeoutMs: 30_000,
      onNewHostKey: (host, key, fp) => {
        const r = this.recs.get(host);
        if (r && !r.hostKeys.includes(key)) r.hostKeys.push(key);
        opts.onNewHostKey?.(host, key, fp);
      },
    });
  }

  rec(host: string): ClusterHostRecord {
    const r = this.recs.get(host);
    if (!r) throw new RuntimeFailure(`no host ${host} in this lab`);
    return r;
  }

  /** argv for the host's shell, with `sudo -n` when the user is not root. */
  cmd(host: string, argv: string[]): string {
    return shellQuote(this.rec(host).sudo ? ['sudo', '-n', ...argv] : argv);
  }

  private readonly servers = new Map<string, HostServer>();

  /** Runs a host.js operation on a host (in-process for `local`). */
  async call<T>(host: string, req: HostOp): Promise<T> {
    if (host === LOCAL_HOST) return (await handle(req)) as T;
    let srv = this.servers.get(host);
    if (!srv?.open) {
      srv = await HostServer.start(this, host);
      this.servers.set(host, srv);
    }
    const answer = await srv.call(req);
    if (!answer.ok)
      throw new MplabError(`host ${host}: ${answer.message ?? `${req.op} failed`}`, answer.exitCode ?? 1);
    return answer.result as T;
  }

  async close(): Promise<void> {
    for (const s of this.servers.values()) s.end();
    this.servers.clear();
    await this.pool.closeAll();
  }
}

interface HostAnswer {
  id: number;
  ok: boolean;
  result?: unknown;
  exitCode?: 1 | 2;
  message?: string;
}

/**
 * `node host.js serve` on a host, over one exec channel: requests and answers as JSON lines. Ends
 * itself once idle for a moment (releasing its SSH session), so a command's process can exit.
 */
class HostServer {
  open = true;
  private nextId = 1;
  private readonly pending = new Map<number, (a: HostAnswer) => void>();
  private buf = '';
  private stderr = '';
  private idle: NodeJS.Timeout | undefined;

  private constructor(
    private readonly host: string,
    private readonly ch: SshStream,
    private readonly release: () => void,
    private readonly leases: () => number,
  ) {
    ch.setEncoding('utf8');
    ch.on('data', (chunk: string) => this.onData(chunk));
    ch.stderr.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-2000);
    });
    void ch.exitCode.then((code) => this.closed(code));
  }

  static async start(hosts: HostSet, host: string): Promise<HostServer> {
    const r = hosts.rec(host);
    const { session, release } = await hosts.pool.acquire(host);
    try {
      const ch = await session.spawn(hosts.cmd(host, ['node', `${r.deployDir}/host.js`, 'serve']));
      return new HostServer(host, ch, release, () => hosts.pool.leases(host));
    } catch (e) {
      release();
      throw e;
    }
  }

  call(req: HostOp): Promise<HostAnswer> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ch.write(`${JSON.stringify({ id, req })}\n`);
    });
  }

  end(): void {
    if (!this.open) return;
    this.open = false;
    this.ch.end();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
      let a: HostAnswer;
      try {
        a = JSON.parse(line);
      } catch {
        continue;
      }
      const p = this.pending.get(a.id);
      this.pending.delete(a.id);
      p?.(a);
    }
    if (this.pending.size === 0 && this.open) this.armIdle();
  }

  /** Ends when idle, unless the session serves others too (agent streams of a run): then later. */
  private armIdle(): void {
    this.idle = setTimeout(() => {
      if (this.pending.size > 0) return;
      if (this.leases() > 1) this.armIdle();
      else this.end();
    }, 300);
  }

  private closed(code: number): void {
    this.open = false;
    if (this.idle) clearTimeout(this.idle);
    const tail = this.stderr.trim().slice(-800);
    const why = `host.js on host ${this.host} ended (exit ${code})${tail ? `: ${tail}` : ''}`;
    for (const [id, p] of this.pending) p({ id, ok: false, exitCode: 1, message: why });
    this.pending.clear();
    this.release();
  }
}

function hostRecordOf(spec: HostSpec, nodes: string[]): ClusterHostRecord {
  return {
    name: spec.name,
    address: spec.address,
    port: spec.port,
    user: spec.user,
    identity: spec.identity,
    hostKeys: [...spec.hostKeys],
    underlay: spec.underlay,
    deployDir: '',
    sudo: spec.user !== 'root',
    nodes,
  };
}

/** Connection failures as exit 1 naming the host; host key refusals keep their fingerprint. */
function connectFailure(e: unknown): MplabError {
  if (e instanceof MplabError) return e;
  if (e instanceof HostKeyMismatchError) return new RuntimeFailure(e.message);
  if (e instanceof SshError) return new RuntimeFailure(e.message);
  return new RuntimeFailure((e as Error).message);
}

/** This machine's source address towards a peer's underlay address. */
async function localUnderlay(peer: string): Promise<string> {
  const r = await run('ip', ['-o', 'route', 'get', peer], { allowFail: true });
  const src = /\bsrc (\S+)/.exec(r.stdout)?.[1];
  if (r.code !== 0 || !src) throw new UsageError(`this machine has no route to ${peer}: ${r.stderr.trim()}`);
  return src;
}

interface Pair {
  a: string;
  b: string;
}

/** Probes VXLAN between every pair of hosts that share a link; returns the underlay MTU per pair. */
async function probe(
  hosts: HostSet,
  plan: ClusterPlan,
  underlay: (host: string, peer: string) => string,
  facts: Map<string, HostFacts>,
): Promise<Map<string, number>> {
  const pairs: Pair[] = [];
  const key = (a: string, b: string) => [a, b].sort().join('|');
  const seen = new Set<string>();
  for (const c of plan.placement.cross) {
    const k = key(c.a.host, c.b.host);
    if (seen.has(k)) continue;
    seen.add(k);
    pairs.push({ a: c.a.host, b: c.b.host });
  }
  const mtus = new Map<string, number>();
  if (pairs.length === 0) return mtus;
  const lab = plan.model.name;
  const tunnels = new Map<string, ProbeTunnel[]>();
  const targets = new Map<string, { addr: string; size: number; pair: Pair; from: string }[]>();
  pairs.forEach((p, k) => {
    const ab = facts.get(p.a)?.mtu[underlay(p.b, p.a)] ?? 1500;
    const ba = facts.get(p.b)?.mtu[underlay(p.a, p.b)] ?? 1500;
    const under = Math.min(ab, ba);
    mtus.set(key(p.a, p.b), under);
    const v6 = underlay(p.a, p.b).includes(':');
    const inner = under - (v6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
    const vni = vniOf(lab, { index: plan.model.links.length + k } as never);
    const base = 4 * k;
    const addrA = `169.254.${(base >> 8) & 255}.${(base & 255) + 1}`;
    const addrB = `169.254.${(base >> 8) & 255}.${(base & 255) + 2}`;
    const port = plan.vxlanPort;
    for (const [me, peer, addr, peerAddr] of [
      [p.a, p.b, addrA, addrB],
      [p.b, p.a, addrB, addrA],
    ] as const) {
      tunnels.set(me, [
        ...(tunnels.get(me) ?? []),
        { vni, local: underlay(me, peer), remote: underlay(peer, me), port, addr, peerAddr, mtu: inner },
      ]);
      targets.set(me, [...(targets.get(me) ?? []), { addr: peerAddr, size: inner - 28, pair: p, from: me }]);
    }
  });
  const involved = [...tunnels.keys()];
  try {
    await Promise.all(
      involved.map((h) => hosts.call(h, { op: 'probeUp', lab, tunnels: tunnels.get(h) ?? [] })),
    );
    const results = await Promise.all(
      involved.map(async (h) => {
        const t = targets.get(h) ?? [];
        const r = await hosts.call<{ ok: boolean; smallOk: boolean }[]>(h, {
          op: 'probePing',
          lab,
          targets: t.map(({ addr, size }) => ({ addr, size })),
        });
        return r.map((x, i) => ({ ...x, ...(t[i] as (typeof t)[0]) }));
      }),
    );
    for (const r of results.flat()) {
      if (r.ok) continue;
      const to = r.from === r.pair.a ? r.pair.b : r.pair.a;
      const fromAddr = underlay(r.from, to);
      const toAddr = underlay(to, r.from);
      if (!r.smallOk)
        throw new RuntimeFailure(
          `VXLAN probe: nothing gets from host ${r.from} (${fromAddr}) to host ${to} (${toAddr}) on UDP port ${plan.vxlanPort}; is that port blocked by a firewall between them? (the lab's links between these hosts would carry nothing)`,
        );
      throw new RuntimeFailure(
        `VXLAN probe: host ${r.from} (${fromAddr}) -> host ${to} (${toAddr}): the underlay does not carry ${r.size + 28 + VXLAN_OVERHEAD_V4}-byte packets though both hosts report an MTU of ${mtus.get(key(r.pair.a, r.pair.b))}; lower the underlay MTU setting on the hosts (mplab then lowers the links' MTU) or fix the path`,
      );
    }
  } finally {
    await Promise.all(involved.map((h) => hosts.call(h, { op: 'probeDown', lab }).catch(() => {})));
  }
  return mtus;
}

/** Builds a lab over the inventory's hosts (see the module comment). */
export async function upCluster(file: string | LabModel, options: ClusterUpOptions): Promise<Lab> {
  const plan0 = await planCluster(file, options.hosts, {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
  });
  const inventory = plan0.inventory as Inventory;
  const lab = plan0.model.name;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new UsageError('mplab up needs root (it creates network namespaces): run it with sudo');
  if (existsSync(labDir(lab)))
    throw new UsageError(`lab '${lab}' already exists (${labDir(lab)}); run 'mplab down ${lab}' first`);
  for (const c of plan0.placement.cross) {
    const l = plan0.model.links.find((x) => x.id === c.link);
    if (l && (l.ab.trace || l.ba.trace))
      throw new UsageError(
        `link ${l.id} crosses hosts and replays a trace: trace links must stay on one host`,
      );
  }
  const remote = plan0.hosts.filter((h) => h !== LOCAL_HOST);
  const recs = remote.map((h) =>
    hostRecordOf(inventory.hosts.get(h) as HostSpec, plan0.placement.nodesOf.get(h) ?? []),
  );
  const hosts = new HostSet(
    recs,
    (h) => inventory.hosts.get(h.name)?.privateKey ?? readFileSync(h.identity),
    {
      acceptNewHostKeys: options.acceptNewHostKeys === true,
      ...(options.onNewHostKey ? { onNewHostKey: options.onNewHostKey } : {}),
    },
  );
  const progress = options.onProgress ?? (() => {});
  const built: string[] = [];
  let localBuilt = false;
  try {
    // Reach every host before anything is built anywhere.
    progress({ step: 'check', state: 'start', detail: `${remote.length} host(s)` });
    await Promise.all(
      remote.map(async (h) => {
        try {
          await hosts.pool.with(h, async (s) => {
            await checkHost(h, hosts.rec(h), s);
            await deploy(h, hosts.rec(h), s);
          });
        } catch (e) {
          throw connectFailure(e);
        }
      }),
    );
    // Underlay addresses: remote hosts from the inventory; this machine's towards each peer.
    const localSrc = new Map<string, string>();
    for (const c of plan0.placement.cross)
      for (const [me, peer] of [
        [c.a.host, c.b.host],
        [c.b.host, c.a.host],
      ] as const)
        if (me === LOCAL_HOST && !localSrc.has(peer))
          localSrc.set(peer, await localUnderlay(hosts.rec(peer).underlay));
    const underlay = (host: string, peer: string): string =>
      host === LOCAL_HOST ? (localSrc.get(peer) as string) : hosts.rec(host).underlay;
    const facts = new Map<string, HostFacts>();
    await Promise.all(
      plan0.hosts.map(async (h) => {
        const peers = new Set<string>();
        for (const c of plan0.placement.cross) {
          if (c.a.host === h) peers.add(underlay(c.b.host, h));
          if (c.b.host === h) peers.add(underlay(c.a.host, h));
        }
        facts.set(h, await hosts.call<HostFacts>(h, { op: 'facts', peers: [...peers] }));
      }),
    );
    for (const [h, f] of facts) {
      if (h !== LOCAL_HOST && f.labs.includes(lab))
        throw new UsageError(
          `host ${h} already has a lab '${lab}'; run 'mplab down ${lab} --hosts ${options.hosts}'`,
        );
      if (f.uid !== 0) throw new UsageError(`host ${h}: host.js does not run as root (uid ${f.uid})`);
    }
    for (const c of plan0.placement.cross) {
      const l = plan0.model.links.find((x) => x.id === c.link);
      const lacking = [c.a.host, c.b.host].filter((h) => !facts.get(h)?.netem);
      if (l && (l.emulator || (l.needsNetem && lacking.length > 0)))
        throw new UsageError(
          `link ${c.link} joins ${c.a.node} on host ${c.a.host} and ${c.b.node} on host ${c.b.host} and needs ${l.emulator ? 'the userspace emulator' : `sch_netem, which host ${lacking.join(' and ')} lacks (so the userspace emulator)`}; the emulator works within one host: pin both ends to one host`,
        );
    }
    const mtus = await probe(hosts, plan0, underlay, facts);
    progress({ step: 'check', state: 'done' });
    // The same placement, its cross links now with the probed underlay MTU.
    const plan: ClusterPlan = {
      ...plan0,
      placement: place(
        {
          ...plan0.model,
          nodes: plan0.model.nodes.map((n) => ({ ...n, host: plan0.placement.hostOf.get(n.name) as string })),
        },
        {
          hosts: plan0.hosts,
          known: [LOCAL_HOST, ...inventory.hosts.keys()],
          underlayOf: (h) => (h === LOCAL_HOST ? undefined : inventory.hosts.get(h)?.underlay),
          underlayMtu: (a, b) => mtus.get([a, b].sort().join('|')) ?? 1500,
        },
      ),
    };
    for (const [n, how] of plan0.placement.how) plan.placement.how.set(n, how);

    // This machine's share first: it claims the lab name here and holds the cluster record.
    const localModel = shareOf(plan, LOCAL_HOST, underlay);
    localBuilt = true;
    await Lab.up(localModel, {
      ...(options.agentTimeoutMs !== undefined ? { agentTimeoutMs: options.agentTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (p) => progress({ ...p, detail: `local${p.detail ? `: ${p.detail}` : ''}` }),
    });
    const record: ClusterRecord = {
      version: 1,
      lab,
      inventory: inventory.file,
      model: withHosts(plan0.model, plan.placement.hostOf, plan.placement.cross),
      hosts: recs,
      hostOf: Object.fromEntries(plan.placement.hostOf),
      cross: plan.placement.cross,
      vxlanPort: plan.vxlanPort,
    };
    writeClusterRecord(record);
    progress({
      step: 'nodes',
      state: 'start',
      count: plan0.model.nodes.length,
      detail: `${remote.length} remote host(s)`,
    });
    const t0 = performance.now();
    const results = await Promise.allSettled(
      remote.map(async (h) => {
        built.push(h);
        await hosts.call(h, {
          op: 'up',
          model: shareOf(plan, h, underlay),
          ...(options.agentTimeoutMs !== undefined ? { agentTimeoutMs: options.agentTimeoutMs } : {}),
        });
      }),
    );
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) throw failed.reason;
    progress({ step: 'nodes', state: 'done', ms: performance.now() - t0, count: plan0.model.nodes.length });
    writeClusterRecord(record); // host keys accepted on the way
  } catch (e) {
    await Promise.all(built.map((h) => hosts.call(h, { op: 'down', lab }).catch(() => {})));
    if (localBuilt) {
      await Lab.down(lab).catch(() => {});
      removeLabDir(lab);
    }
    await hosts.close();
    if (e instanceof UsageError && built.length === 0 && !localBuilt) throw e;
    if (e instanceof MplabError)
      throw new RuntimeFailure(
        `up failed: ${e.message}${built.length > 0 || localBuilt ? ' (everything built was removed, on every host)' : ''}`,
      );
    throw connectFailure(e);
  }
  await hosts.close();
  return Lab.open(lab);
}

/** The full model with each node's host and the cross links' lowered MTU (what status shows). */
function withHosts(
  model: LabModel,
  hostOf: Map<string, string>,
  cross: { link: string; mtu: number }[],
): LabModel {
  const mtu = new Map(cross.map((c) => [c.link, c.mtu]));
  return {
    ...model,
    nodes: model.nodes.map((n) => ({
      ...n,
      host: hostOf.get(n.name) as string,
      interfaces: n.interfaces.map((i) =>
        mtu.has(i.link) ? { ...i, mtu: Math.min(i.mtu, mtu.get(i.link) as number) } : i,
      ),
    })),
    links: model.links.map((l) => (mtu.has(l.id) ? { ...l, mtu: mtu.get(l.id) as number } : l)),
  };
}

// ---------------------------------------------------------------------------------------------
// a running multi-host lab

const hostSets = new Map<string, HostSet>();

/** The (cached, pooled) hosts of a lab's record. */
export function hostsOf(record: ClusterRecord): HostSet {
  let hs = hostSets.get(record.lab);
  if (!hs) {
    hs = new HostSet(record.hosts, (h) => readFileSync(h.identity));
    hostSets.set(record.lab, hs);
  }
  return hs;
}

function hostOfNode(record: ClusterRecord, node: string): string {
  const h = record.hostOf[node];
  if (!h) throw new UsageError(`lab '${record.lab}' has no node '${node}'`);
  return h;
}

export function isRemoteNode(record: ClusterRecord, node: string): boolean {
  return hostOfNode(record, node) !== LOCAL_HOST;
}

/** A client to a remote node's agent over its host's SSH connection (released when closed). */
export async function remoteAgent(record: ClusterRecord, node: string): Promise<AgentClient> {
  const host = hostOfNode(record, node);
  const hs = hostsOf(record);
  const r = hs.rec(host);
  const { session, release } = await hs.pool.acquire(host);
  try {
    const c = await connectRemoteAgent(session, {
      socket: `/run/mplab/${record.lab}/${node}.sock`,
      agentScript: `${r.deployDir}/agent.js`,
      ...(r.sudo ? { prefix: ['sudo', '-n'] } : {}),
      connectTimeoutMs: 5000,
      callTimeoutMs: 30_000,
    });
    void c.closed().then(release);
    return c;
  } catch (e) {
    release();
    throw new RuntimeFailure(`node '${node}' on host ${host}: ${(e as Error).message}`);
  }
}

export async function remoteExec(
  record: ClusterRecord,
  node: string,
  argv: string[],
  options: { input?: string; timeoutMs?: number; stdio?: 'pipe' | 'inherit' },
): Promise<CommandResult> {
  const host = hostOfNode(record, node);
  const r = await hostsOf(record).call<CommandResult>(host, {
    op: 'exec',
    lab: record.lab,
    node,
    argv,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  if (options.stdio === 'inherit') {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
  }
  return r;
}

/** Applies a link change on every host holding an end of the link; returns the merged link status. */
export async function clusterLink(
  lab: Lab,
  record: ClusterRecord,
  id: string,
  end: 'a' | 'b',
  change: LinkChangeRequest,
): Promise<LinkStatus> {
  const l = record.model.links.find((x) => x.id === id);
  if (!l) throw new UsageError(`lab '${record.lab}' has no link ${id}`);
  const owners = [...new Set([record.hostOf[l.a.node], record.hostOf[l.b.node]])] as string[];
  await Promise.all(
    owners.map((h) =>
      h === LOCAL_HOST
        ? lab.localShare().changeLink(id, end, change)
        : hostsOf(record).call(h, { op: 'changeLink', lab: record.lab, id, end, change }),
    ),
  );
  const st = await clusterStatus(lab, record);
  return st.links.find((x) => x.id === id) as LinkStatus;
}

export interface HostStatus {
  name: string;
  address: string;
  nodes: string[];
  reachable: boolean;
  error?: string;
}

/** Every host's status merged: nodes with their host, cross links with VNI and MTU. */
export async function clusterStatus(lab: Lab, record: ClusterRecord): Promise<LabStatus> {
  const local = await lab.localShare().status();
  const per = new Map<string, LabStatus>([[LOCAL_HOST, local]]);
  const hostRows: HostStatus[] = [];
  const hs = hostsOf(record);
  await Promise.all(
    record.hosts.map(async (h) => {
      const row: HostStatus = { name: h.name, address: h.address, nodes: h.nodes, reachable: false };
      try {
        per.set(h.name, await hs.call<LabStatus>(h.name, { op: 'status', lab: record.lab }));
        row.reachable = true;
      } catch (e) {
        row.error = (e as Error).message;
      }
      hostRows.push(row);
    }),
  );
  hostRows.sort(
    (a, b) =>
      record.hosts.findIndex((h) => h.name === a.name) - record.hosts.findIndex((h) => h.name === b.name),
  );
  const nodes: NodeStatus[] = record.model.nodes.map((n) => {
    const host = record.hostOf[n.name] as string;
    const found = per.get(host)?.nodes.find((x) => x.name === n.name);
    return {
      ...(found ?? {
        name: n.name,
        kind: n.kind,
        stack: n.stack,
        handle: n.netns,
        exists: false,
        addresses: n.addresses,
      }),
      host,
    };
  });
  const cross = new Map(record.cross.map((c) => [c.link, c]));
  const links: LinkStatus[] = record.model.links.map((l) => {
    const ha = record.hostOf[l.a.node] as string;
    const hb = record.hostOf[l.b.node] as string;
    const sa = per.get(ha)?.links.find((x) => x.id === l.id);
    const sb = per.get(hb)?.links.find((x) => x.id === l.id);
    const base: LinkStatus = sa ??
      sb ?? {
        id: l.id,
        a: `${l.a.node}:${l.a.iface}`,
        b: `${l.b.node}:${l.b.iface}`,
        up: l.up,
        via: 'none',
        ab: l.ab,
        ba: l.ba,
        counters: {},
      };
    const c = cross.get(l.id);
    if (!c) return base;
    const counters: LinkStatus['counters'] = {};
    if (sa?.counters.a) counters.a = sa.counters.a;
    if (sb?.counters.b) counters.b = sb.counters.b;
    return {
      ...base,
      ab: sa?.ab ?? l.ab,
      ba: sb?.ba ?? l.ba,
      up: (sa?.up ?? l.up) && (sb?.up ?? l.up),
      via: sa?.via === 'tc' || sb?.via === 'tc' ? 'tc' : (sa?.via ?? sb?.via ?? 'none'),
      counters,
      vxlan: { vni: c.vni, mtu: c.mtu, declaredMtu: c.declaredMtu, port: record.vxlanPort, hosts: [ha, hb] },
    };
  });
  return { ...local, backend: 'remote', nodes, links, hosts: hostRows };
}

/** Tears down every remote share of a lab; returns the hosts that could not be reached. */
export async function teardownRemote(record: ClusterRecord): Promise<{ host: string; error: string }[]> {
  const hs = hostsOf(record);
  const failed: { host: string; error: string }[] = [];
  await Promise.all(
    record.hosts.map(async (h) => {
      try {
        await hs.call<DownResult>(h.name, { op: 'down', lab: record.lab });
      } catch (e) {
        failed.push({ host: h.name, error: (e as Error).message });
      }
    }),
  );
  await hs.close();
  hostSets.delete(record.lab);
  return failed;
}

/** `mplab down --all --hosts FILE`: every mplab object on every host of the inventory (and here). */
export async function downAllHosts(
  inventoryFile: string,
  opts: { acceptNewHostKeys?: boolean } = {},
): Promise<{ host: string; results?: DownResult[]; error?: string }[]> {
  const inv = loadInventory(inventoryFile);
  const recs = [...inv.hosts.values()].map((h) => hostRecordOf(h, []));
  const hosts = new HostSet(recs, (h) => inv.hosts.get(h.name)?.privateKey as Buffer, opts);
  try {
    return await Promise.all(
      recs.map(async (r) => {
        try {
          await hosts.pool.with(r.name, async (s) => {
            await checkHost(r.name, hosts.rec(r.name), s);
            await deploy(r.name, hosts.rec(r.name), s);
          });
          return { host: r.name, results: await hosts.call<DownResult[]>(r.name, { op: 'downAll' }) };
        } catch (e) {
          return { host: r.name, error: (e as Error).message };
        }
      }),
    );
  } finally {
    await hosts.close();
  }
}

export { readClusterRecord };
