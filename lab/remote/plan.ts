/**
 * The multi-host plan of a lab, made without contacting any host: the topology loaded against the
 * inventory, every node placed, each host's share of the model, the cross-host links with VNI,
 * ends and MTU. `mplab up --dry-run` prints it; `up --hosts` builds it.
 *
 * A share is an ordinary LabModel holding one host's nodes and links; a cross-host link stays in
 * the share of both its hosts with `vxlan` set (which end is here, VNI, underlay addresses, port),
 * so that host's Lab.up makes a VXLAN device for its end instead of a veth pair and shapes only the
 * egress of its own end (the other direction is the other host's egress).
 */
import type { LabModel, LinkModel, LinkVxlan, NodeModel } from '../topology/model';
import { loadTopology } from '../topology/index';
import { type Inventory, LOCAL_HOST, loadInventory } from './inventory';
import { type CrossLink, type Placement, place } from './placement';

export interface ClusterPlan {
  model: LabModel;
  inventory: Inventory | undefined;
  placement: Placement;
  /** Hosts with nodes, `local` first when it has any. */
  hosts: string[];
  vxlanPort: number;
}

export interface PlanInput {
  /** Replaces the topology's lab name. */
  name?: string;
  backend?: string;
  /** Underlay MTU per host pair, once probed (default 1500). */
  underlayMtu?: (a: string, b: string) => number;
}

/** Loads topology and inventory (both validated with positions: TopologyError) and places the nodes. */
export async function planCluster(
  file: string | LabModel,
  inventoryFile: string | undefined,
  input: PlanInput = {},
): Promise<ClusterPlan> {
  const inventory = inventoryFile ? loadInventory(inventoryFile) : undefined;
  const names = inventory ? [LOCAL_HOST, ...inventory.hosts.keys()] : undefined;
  const model =
    typeof file === 'string'
      ? await loadTopology(file, {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.backend !== undefined ? { backend: input.backend } : {}),
          ...(names ? { hosts: names } : {}),
        })
      : file;
  return placeModel(model, inventory, input);
}

export function placeModel(
  model: LabModel,
  inventory: Inventory | undefined,
  input: PlanInput = {},
): ClusterPlan {
  const remote = inventory ? [...inventory.hosts.keys()] : [];
  const candidates = [...(inventory?.placeOnLocal === false ? [] : [LOCAL_HOST]), ...remote];
  const placement = place(model, {
    hosts: candidates,
    known: [LOCAL_HOST, ...remote],
    underlayOf: (h) => (h === LOCAL_HOST ? undefined : inventory?.hosts.get(h)?.underlay),
    ...(input.underlayMtu ? { underlayMtu: input.underlayMtu } : {}),
  });
  const hosts = [...placement.nodesOf.keys()].sort((a, b) =>
    a === LOCAL_HOST ? -1 : b === LOCAL_HOST ? 1 : remote.indexOf(a) - remote.indexOf(b),
  );
  return { model, inventory, placement, hosts, vxlanPort: inventory?.vxlanPort ?? 4789 };
}

export type VxlanEnd = LinkVxlan;

/** The underlay address `host` uses towards `peer` (remote hosts: their inventory `underlay`). */
export type UnderlayOf = (host: string, peer: string) => string;

/** One host's share of the model (cross links keep only this host's end, marked with `vxlan`). */
export function shareOf(plan: ClusterPlan, host: string, underlayOf: UnderlayOf): LabModel {
  const { model, placement } = plan;
  const here = new Set(placement.nodesOf.get(host) ?? []);
  const cross = new Map(placement.cross.map((c) => [c.link, c]));
  const links: LinkModel[] = [];
  for (const l of model.links) {
    const inA = here.has(l.a.node);
    const inB = here.has(l.b.node);
    if (!inA && !inB) continue;
    const c = cross.get(l.id);
    if (!c) {
      links.push(l);
      continue;
    }
    const end = inA ? 'a' : 'b';
    const peer = end === 'a' ? c.b.host : c.a.host;
    links.push({
      ...l,
      mtu: c.mtu,
      vxlan: {
        end,
        vni: c.vni,
        local: underlayOf(host, peer),
        remote: underlayOf(peer, host),
        port: plan.vxlanPort,
        peerHost: peer,
      },
    });
  }
  const nodes: NodeModel[] = model.nodes
    .filter((n) => here.has(n.name))
    .map((n) => ({
      ...n,
      interfaces: n.interfaces.map((i) => {
        const c = cross.get(i.link);
        return c ? { ...i, mtu: Math.min(i.mtu, c.mtu) } : i;
      }),
    }));
  const events = model.events.filter((e) => {
    if (e.action === 'sysctl') return e.nodes.some((n) => here.has(n));
    const l = model.links.find((x) => x.id === e.link);
    return l ? here.has(l.a.node) || here.has(l.b.node) : false;
  });
  const segLinks = new Set(links.map((l) => l.id));
  return {
    ...model,
    nodes,
    links,
    segments: model.segments.filter((s) => s.links.some((id) => segLinks.has(id))),
    events,
  };
}

/** Rows for printing: node placement with addresses, and the cross-host links. */
export function planRows(plan: ClusterPlan): {
  nodes: { node: string; host: string; how: string; kind: string; stack: string; interfaces: string }[];
  cross: (CrossLink & { port: number })[];
} {
  return {
    nodes: plan.model.nodes.map((n) => ({
      node: n.name,
      host: plan.placement.hostOf.get(n.name) ?? '?',
      how: plan.placement.how.get(n.name) ?? '?',
      kind: n.kind,
      stack: n.stack,
      interfaces: n.interfaces
        .map((i) => {
          const c = plan.placement.cross.find((x) => x.link === i.link);
          const mtu = c ? Math.min(i.mtu, c.mtu) : i.mtu;
          const addrs = i.addresses.map((a) => `${a.address}/${a.prefix}`).join(',');
          return `${i.name}${addrs ? ` ${addrs}` : ''}${mtu !== 1500 ? ` mtu ${mtu}` : ''}${c ? ' (vxlan)' : ''}`;
        })
        .join('; '),
    })),
    cross: plan.placement.cross.map((c) => ({ ...c, port: plan.vxlanPort })),
  };
}
