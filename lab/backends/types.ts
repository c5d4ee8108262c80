/**
 * The backend interface: what the lab needs from whatever hosts its nodes (network namespaces here;
 * Docker containers and remote hosts later). Calls take whole batches (all nodes, all links) so a
 * backend can apply them with few processes; a backend never decides anything about the topology —
 * the model (lab/topology/model.ts) is fully planned before it gets here.
 */
import type { CommandResult } from '../exec';
import type { LinkModel, NodeModel } from '../topology/model';

/** One end of a link as the backend wires it. */
export interface LinkEnd {
  node: string;
  /** The node's host-side handle: namespace name or container id. */
  handle: string;
  /** Interface name inside the node (the model's, e.g. eth1 or wifi). */
  ifname: string;
  mtu: number;
  mac?: string;
}

export interface WireSpec {
  id: string;
  a: LinkEnd;
  b: LinkEnd;
}

export interface ExecOptions {
  stdio?: 'pipe' | 'inherit';
  input?: string;
  timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting on failure. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface Backend {
  readonly kind: string;
  /** The host-side handle of a node: `mplab-<lab>-<node>` for namespaces. */
  handleOf(lab: string, node: string): string;
  /** Creates empty nodes (namespaces with loopback, containers). */
  createNodes(handles: string[]): Promise<void>;
  /** Wires point-to-point links (veth pairs), each end named and placed in its node. */
  wireLinks(links: WireSpec[]): Promise<void>;
  /**
   * Applies each node's interfaces (MTU, addresses, up unless in `downIfaces`), routes, policy
   * rules and forwarding. Routes over a down interface are left for `restoreRoutes`.
   */
  configureNodes(nodes: { node: NodeModel; handle: string; downIfaces: Set<string> }[]): Promise<void>;
  /** Applies `tc -batch` lines inside a node. `force` keeps going past errors (e.g. "no qdisc"). */
  tc(handle: string, lines: string[], force?: boolean): Promise<void>;
  /** Sets an interface up or down; when up, re-applies the node's routes over it. */
  setIfaceUp(handle: string, node: NodeModel, ifname: string, up: boolean): Promise<void>;
  /** Runs a command inside a node. */
  exec(handle: string, argv: string[], options?: ExecOptions): Promise<CommandResult>;
  /** Starts a long-lived process inside a node, detached from the caller; returns its pid. */
  spawnDetached(handle: string, argv: string[], logFile: string): number;
  /** The same where starting takes a round trip (containers); used instead when present. */
  spawnDetachedAsync?(handle: string, argv: string[], logFile: string): Promise<number>;
  /** Pids of every process running inside a node. */
  pids(handle: string): Promise<number[]>;
  /** The same for many nodes at once, where the backend can do it in one pass. */
  pidsOf?(handles: string[]): Promise<number[]>;
  /** Removes nodes (and every link end inside them). Idempotent. */
  destroy(handles: string[]): Promise<void>;
  /** Every node handle on this host whose name starts with `prefix` (for `down --all`). */
  findAll(prefix: string): Promise<string[]>;
}

/** The ends of a model link as wire specs. */
export function wireSpecOf(
  link: LinkModel,
  handleOf: (node: string) => string,
  nodes: Map<string, NodeModel>,
): WireSpec {
  const end = (e: { node: string; iface: string }): LinkEnd => {
    const n = nodes.get(e.node);
    const iface = n?.interfaces.find((i) => i.name === e.iface);
    const out: LinkEnd = {
      node: e.node,
      handle: handleOf(e.node),
      ifname: e.iface,
      mtu: iface?.mtu ?? link.mtu,
    };
    if (iface?.mac) out.mac = iface.mac;
    return out;
  };
  return { id: link.id, a: end(link.a), b: end(link.b) };
}
