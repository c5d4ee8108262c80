/**
 * Cross-host link ends as kernel VXLAN devices. Each end is created by `ip link add … netns NODE
 * type vxlan …` run in the host's own namespace: the device appears in the node under the
 * interface name the model gives it, while its UDP socket stays in the host's namespace, bound to
 * the underlay (VXLAN sockets live in the namespace the device was created from). So the rest of
 * the link — MTU, addresses, tc shaping, up/down, capture, counters — is the same as for a veth
 * end, nothing is left in the host's namespace, and deleting the node's namespace deletes the
 * device.
 */
import { ipBatch } from '../exec';
import type { LinkModel, NodeModel } from '../topology/model';

/** The `ip` lines (for `ip -batch`, run in the host namespace) that create this host's VXLAN ends. */
export function vxlanLines(
  links: readonly LinkModel[],
  nodes: ReadonlyMap<string, NodeModel>,
  handleOf: (node: string) => string,
): string[] {
  const out: string[] = [];
  for (const l of links) {
    const v = l.vxlan;
    if (!v) continue;
    const e = v.end === 'a' ? l.a : l.b;
    const iface = nodes.get(e.node)?.interfaces.find((i) => i.name === e.iface);
    if (!iface) throw new Error(`link ${l.id}: node ${e.node} has no interface ${e.iface}`);
    out.push(
      `link add name ${e.iface} netns ${handleOf(e.node)} address ${iface.mac} mtu ${iface.mtu} type vxlan id ${v.vni} local ${v.local} remote ${v.remote} dstport ${v.port} nolearning`,
    );
  }
  return out;
}

export async function wireVxlans(
  links: readonly LinkModel[],
  nodes: ReadonlyMap<string, NodeModel>,
  handleOf: (node: string) => string,
): Promise<void> {
  const lines = vxlanLines(links, nodes, handleOf);
  if (lines.length > 0) await ipBatch(null, lines);
}

/** Whether this end of a link is on this host (always, except the far end of a VXLAN link). */
export function endIsHere(l: LinkModel, end: 'a' | 'b'): boolean {
  return l.vxlan === undefined || l.vxlan.end === end;
}
