/**
 * A LabModel in the deterministic simulator, built from the same plan the backends apply: hosts
 * with their interfaces, addresses, routes and source-policy rules; routers forwarding by their
 * tables; switches as L2 segments; links with the topology's rate, delay, jitter, loss, burst loss,
 * reordering, duplication, queue and MTU per direction.
 *
 * Hosts run our MPTCP stack (MptcpHost) with their node's knobs, the agent's MSS rule and seeded
 * randomness. `stack: none` hosts run it with MPTCP off. Nodes with `stack: kernel` are refused
 * before this is called (lab/sim/refuse.ts): the simulator has no kernel.
 */
import { readFileSync } from 'node:fs';
import { MptcpHost } from '../../stack/mptcp/host';
import {
  type Host,
  type Link,
  type LinkParams,
  parseMahimahi,
  type Router,
  Simulator,
  type Switch,
} from '../../stack/sim/index';
import { type RouteSpec, RoutingTable, type RuleSpec } from '../../stack/sim/routing';
import type { CoreFactory, LinkConfig } from '../../stack/sim/types';
import { Sysctl } from '../../stack/sysctl';
import { UsageError } from '../errors';
import type { DirParams, LabModel, NodeModel } from '../topology/model';

export interface SimLab {
  sim: Simulator;
  hosts: Map<string, Host>;
  routers: Map<string, Router>;
  switches: Map<string, Switch>;
  links: Map<string, Link>;
  /** The knob registry of each host (scenario sysctl events change it). */
  sysctls: Map<string, Sysctl>;
  notes: string[];
}

export interface SimBuildOptions {
  seed?: number | string;
  /** Extra knobs per node, applied over the node's own (campaign cells, --stack tcp). */
  knobs?: Record<string, Record<string, string | number>>;
}

/** Topology direction parameters as simulator link parameters. */
export function simParams(d: DirParams, mtu: number): Partial<LinkParams> {
  const p: Partial<LinkParams> = { mtu: mtu + 0 };
  if (d.rateMbps !== undefined) p.rateMbps = d.rateMbps;
  if (d.delayMs !== undefined) p.delayMs = d.delayMs;
  if (d.jitterMs !== undefined) p.jitterMs = d.jitterMs;
  if (d.lossPct !== undefined) p.loss = d.lossPct / 100;
  if (d.burstLoss)
    p.gilbert = {
      p: d.burstLoss.p / 100,
      r: d.burstLoss.r / 100,
      lossBad: d.burstLoss.lossBad / 100,
      lossGood: d.burstLoss.lossGood / 100,
    };
  if (d.reorderPct !== undefined && d.reorderPct > 0) p.reorder = { prob: d.reorderPct / 100 }; // netem's: the picked packet skips the delay
  if (d.duplicatePct !== undefined) p.duplicate = d.duplicatePct / 100;
  if (d.queue?.bytes !== undefined) p.queueBytes = d.queue.bytes;
  if (d.queue?.ms !== undefined) p.queueMs = d.queue.ms;
  if (d.queue?.packets !== undefined) p.queuePackets = d.queue.packets;
  if (d.trace !== undefined) {
    let text: string;
    try {
      text = readFileSync(d.trace, 'utf8');
    } catch (e) {
      throw new UsageError(`trace ${d.trace}: ${(e as Error).message}`);
    }
    try {
      p.deliveryTrace = parseMahimahi(text, d.trace);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return p;
}

/**
 * The MSS per local address our agent would use (stack/api.ts): the interface MTU minus the IP,
 * UDP (UDP phy) and TCP headers, at least 536, at most 16384, raised by net.mptcp.mptcp_mss.
 */
function mssFor(mtu: number, family: 4 | 6, phy: NodeModel['phy'], sysctl: Sysctl): number {
  const ip = family === 6 ? 40 : 20;
  const maxSegment = mtu - ip - (phy === 'udp' ? 8 : 0);
  const path = Math.max(536, Math.min(16384, maxSegment) - 20);
  const shared = sysctl.getInt('net.mptcp.mptcp_mss');
  return Math.max(path, shared > 0 ? Math.min(65487, shared + 40) : 0);
}

function hostFactory(node: NodeModel, sysctl: Sysctl): CoreFactory {
  return (info) => {
    const rng = info.rng.fork('mptcp');
    const mss: Record<string, number> = {};
    const fill = () => {
      for (const i of node.interfaces)
        for (const a of i.addresses) mss[a.address] = mssFor(i.mtu, a.family, node.phy, sysctl);
    };
    fill();
    sysctl.onChange((name) => {
      if (name === 'net.mptcp.mptcp_mss') fill();
    });
    return new MptcpHost({
      sysctl,
      random: () => rng.nextU32(),
      isnSecret: new Uint8Array(16).map(() => rng.nextU32() & 0xff),
      keygen: () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()) || 1n,
      mssByAddress: mss,
      // No link of the model alters bytes, so a TCP checksum never fails: computing and checking
      // it was 5-8 % of a run's time. A capture writes packets with checksums of its own.
      checksums: false,
    });
  };
}

/**
 * The node's routing as its backend configures it (lab/topology/plan.ts → iproute.ts): the main
 * table's connected routes from its addresses, the planned routes and the source-policy rules.
 */
export function routingOf(node: NodeModel): RoutingTable {
  const connected: { dev: string; subnet: string }[] = [];
  for (const i of node.interfaces)
    for (const a of i.addresses) connected.push({ dev: i.name, subnet: a.subnet });
  const routes: RouteSpec[] = node.routes.map((r) => {
    const out: RouteSpec = { family: r.family, dst: r.dst };
    if (r.table !== undefined) out.table = r.table;
    if (r.type === 'unreachable') out.type = 'unreachable';
    if (r.via !== undefined) out.via = r.via;
    if (r.dev !== undefined) out.dev = r.dev;
    if (r.nexthops) out.nexthops = r.nexthops.map((h) => ({ via: h.via, dev: h.dev }));
    return out;
  });
  const rules: RuleSpec[] = node.rules.map((r) => ({ from: r.from, table: r.table, priority: r.priority }));
  return new RoutingTable(connected, routes, rules);
}

/** Bytes a datagram carries beyond its IP header: the UDP header when our stack runs over UDP. */
function encapBytes(model: LabModel): number {
  return model.nodes.some((n) => n.kind === 'host' && n.stack !== 'none' && n.phy === 'udp') ? 8 : 0;
}

/**
 * Builds the simulator for a lab model from the plan the backends apply: each host's interfaces
 * and addresses, its routes and source rules (a packet goes where the node's kernel would send it,
 * or is refused at once as unreachable); routers forward by their tables; switches join their
 * links into one L2 segment; hosts never forward. Links start down when the topology says so.
 */
export function buildSimLab(model: LabModel, options: SimBuildOptions = {}): SimLab {
  const sim = new Simulator({ seed: options.seed ?? 1 });
  const hosts = new Map<string, Host>();
  const routers = new Map<string, Router>();
  const switches = new Map<string, Switch>();
  const links = new Map<string, Link>();
  const sysctls = new Map<string, Sysctl>();
  const notes: string[] = [];
  for (const n of model.nodes) {
    if (n.kind === 'host') {
      const knobs: Record<string, string | number> = { ...n.knobs, ...(options.knobs?.[n.name] ?? {}) };
      if (n.stack === 'none') knobs['net.mptcp.mptcp_enabled'] = 0;
      let sysctl: Sysctl;
      try {
        sysctl = new Sysctl(knobs);
      } catch (e) {
        throw new UsageError(`node '${n.name}': ${(e as Error).message}`);
      }
      sysctls.set(n.name, sysctl);
      const h = sim.addHost(
        n.name,
        hostFactory(n, sysctl),
        n.interfaces.map((i) => ({ name: i.name, addresses: i.addresses.map((a) => a.address) })),
      );
      h.setRouting(routingOf(n));
      hosts.set(n.name, h);
    } else if (n.kind === 'router') {
      const r = sim.addRouter(n.name);
      for (const i of n.interfaces)
        r.addIface(
          i.name,
          i.addresses.map((a) => a.address),
        );
      r.setRouting(routingOf(n));
      routers.set(n.name, r);
    } else {
      const s = sim.addSwitch(n.name);
      for (const i of n.interfaces) s.addIface(i.name);
      switches.set(n.name, s);
    }
  }
  const endOf = (node: string, iface: string) => {
    const x = hosts.get(node) ?? routers.get(node) ?? switches.get(node);
    if (!x) throw new Error(`sim: no node '${node}'`);
    const i = x.ifaces.find((f) => f.name === iface);
    if (!i) throw new Error(`sim: node '${node}' has no interface '${iface}'`);
    return i;
  };
  const encap = encapBytes(model);
  for (const l of model.links) {
    const cfg: LinkConfig = {
      name: l.id,
      ab: { ...simParams(l.ab, l.mtu), encapBytes: encap },
      ba: { ...simParams(l.ba, l.mtu), encapBytes: encap },
    };
    const link = sim.addLink(endOf(l.a.node, l.a.iface), endOf(l.b.node, l.b.iface), cfg);
    if (!l.up) link.down();
    links.set(l.id, link);
  }
  return { sim, hosts, routers, switches, links, sysctls, notes };
}
