/**
 * A LabModel in the deterministic simulator: hosts with their addresses (one simulator interface
 * per topology interface), routers and switches as forwarding nodes, links with the topology's
 * rate, delay, jitter, loss, burst loss, reordering, duplication, queue and MTU per direction.
 *
 * Hosts run our MPTCP stack (MptcpHost) with their node's knobs and seeded randomness. Nodes with
 * `stack: kernel` have no kernel in the simulator: they run MptcpHost too (the result carries a note
 * saying so). `stack: none` hosts get a plain TCP host with MPTCP off.
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
} from '../../stack/sim/index';
import type { CoreFactory, LinkConfig } from '../../stack/sim/types';
import { Sysctl } from '../../stack/sysctl';
import { UsageError } from '../errors';
import type { DirParams, LabModel, NodeModel } from '../topology/model';

export interface SimLab {
  sim: Simulator;
  hosts: Map<string, Host>;
  routers: Map<string, Router>;
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
  if (d.reorderPct !== undefined && d.reorderPct > 0)
    p.reorder = { prob: d.reorderPct / 100, extraDelayMs: Math.max(1, d.delayMs ?? 1) };
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
    p.deliveryTrace = parseMahimahi(text);
  }
  return p;
}

function hostFactory(node: NodeModel, sysctl: Sysctl): CoreFactory {
  return (info) => {
    const rng = info.rng.fork('mptcp');
    const mss: Record<string, number> = {};
    for (const i of node.interfaces)
      for (const a of i.addresses) mss[a.address] = i.mtu - (a.family === 4 ? 40 : 60);
    return new MptcpHost({
      sysctl,
      random: () => rng.nextU32(),
      isnSecret: new Uint8Array(16).map(() => rng.nextU32() & 0xff),
      keygen: () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()) || 1n,
      mssByAddress: mss,
    });
  };
}

/** Builds the simulator for a lab model. Links start down when the topology says so. */
export function buildSimLab(model: LabModel, options: SimBuildOptions = {}): SimLab {
  const sim = new Simulator({ seed: options.seed ?? 1 });
  const hosts = new Map<string, Host>();
  const routers = new Map<string, Router>();
  const links = new Map<string, Link>();
  const sysctls = new Map<string, Sysctl>();
  const notes: string[] = [];
  const ifaceOf = new Map<string, number>();
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
      if (n.stack === 'kernel')
        notes.push(`node '${n.name}' runs the kernel's MPTCP in a lab; the simulator runs our stack there`);
      sysctls.set(n.name, sysctl);
      n.interfaces.forEach((i, idx) => {
        ifaceOf.set(`${n.name}:${i.name}`, idx);
      });
      const h = sim.addHost(
        n.name,
        hostFactory(n, sysctl),
        n.interfaces.map((i) => ({ name: i.name, addresses: i.addresses.map((a) => a.address) })),
      );
      hosts.set(n.name, h);
    } else {
      routers.set(n.name, sim.addRouter(n.name));
    }
  }
  const endOf = (node: string, iface: string) => {
    const h = hosts.get(node);
    if (h) return h.ifaces[ifaceOf.get(`${node}:${iface}`) ?? -1]!;
    return routers.get(node)!;
  };
  for (const l of model.links) {
    const cfg: LinkConfig = { name: l.id, ab: simParams(l.ab, l.mtu), ba: simParams(l.ba, l.mtu) };
    const link = sim.addLink(endOf(l.a.node, l.a.iface), endOf(l.b.node, l.b.iface), cfg);
    if (!l.up) link.down();
    links.set(l.id, link);
  }
  return { sim, hosts, routers, links, sysctls, notes };
}
