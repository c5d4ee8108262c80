// The resolved, fully planned lab model: what `loadTopology` returns and what a backend applies
// without further thought. Every name, address, route, rule and link parameter is decided here;
// nothing is left for the backend to infer. All values are deterministic for a given file.
//
// Conventions:
// - Times are milliseconds, rates Mbit/s (1 Mbit = 10^6 bit), sizes bytes, percentages 0..100.
// - A parameter that is absent (undefined) was not asked for: no shaping of that kind.
// - Arrays are in a stable order (file order; planned items after user-given ones).

/** Where a node runs. */
export type BackendKind = 'netns' | 'docker' | 'vm';

/** A VM node's QEMU settings, resolved (paths absolute, memory in MiB). */
export interface VmModel {
  memoryMib: number;
  cpus: number;
  /** Guest kernel; undefined = the live image's. */
  kernel?: string;
  /** Base initramfs; undefined = the live image's. */
  initrd?: string;
  accel: 'auto' | 'kvm' | 'tcg';
}
/** Which MPTCP stack a node runs: ours (agent), the Linux kernel's, or none (routers, switches). */
export type StackKind = 'ts' | 'kernel' | 'none';
/** How our stack reaches the wire: UDP encapsulation (default) or a TUN device. */
export type PhyKind = 'udp' | 'tun';
export type NodeKind = 'host' | 'router' | 'switch';
export type Family = 4 | 6;

/** An interface address. `address` is the bare address, `prefix` the prefix length. */
export interface AddressModel {
  family: Family;
  address: string;
  prefix: number;
  /** The subnet in CIDR form, e.g. "10.0.1.0/24" or "fd00:0:0:1::/64". */
  subnet: string;
  /** True when the user wrote this address; false when the planner chose it. */
  planned: boolean;
}

export interface IfaceModel {
  /** Name inside the node (as the user wrote it, or planned as eth<n>); ≤ 15 chars. */
  name: string;
  /** Id of the link this interface belongs to (LinkModel.id). */
  link: string;
  /** The interface at the other end of the link (for switch ports: the switch's port). */
  peer: { node: string; iface: string };
  mtu: number;
  /** Addresses in order: IPv4 first, then IPv6. Empty on switch ports. */
  addresses: AddressModel[];
  /** Locally administered unicast MAC, user-given or derived deterministically. */
  mac: string;
  /**
   * Host-unique short name (≤ 15 chars, starts with LabModel.hostIfPrefix) to use while the veth
   * end still sits in the root namespace, before it is moved into the node and renamed to `name`.
   */
  hostName: string;
  /**
   * Routing table (100 + position) for source-based policy routing of this interface's addresses
   * (see NodeModel.rules). Set only on hosts with two or more addressed interfaces.
   */
  table?: number;
}

/** One route. `table` undefined = the main table. */
export interface RouteModel {
  family: Family;
  /**
   * 'unreachable': `ip route add unreachable <dst> table <table>` (no via/dev). Used as the default
   * of a per-interface table without a gateway, so a source address never leaks out of another
   * interface. Absent: an ordinary unicast route.
   */
  type?: 'unreachable';
  /** "default" or a CIDR prefix ("10.0.2.0/24", "fd00:0:0:2::/64"). */
  dst: string;
  /** Gateway address; absent for a directly connected route (then `dev` is the link). */
  via?: string;
  /** Output interface (name inside the node). Absent when `nexthops` is given or type is unreachable. */
  dev?: string;
  /** Equal-cost multipath next hops (ECMP); when present, `via`/`dev` are absent. */
  nexthops?: { via: string; dev: string }[];
  table?: number;
  /** Preferred source address. */
  src?: string;
  metric?: number;
}

/** A policy routing rule: `ip rule add from <from> lookup <table> priority <priority>`. */
export interface RuleModel {
  family: Family;
  /** A source address with prefix, e.g. "10.0.1.1/32". */
  from: string;
  table: number;
  priority: number;
}

/** Gilbert-Elliott burst loss (netem's `loss gemodel p r 1-h 1-k`), all in percent. */
export interface BurstLoss {
  /** Probability of moving from the good to the bad state, per packet. */
  p: number;
  /** Probability of moving from the bad to the good state, per packet. */
  r: number;
  /** Loss probability in the bad state (default 100). */
  lossBad: number;
  /** Loss probability in the good state (default 0). */
  lossGood: number;
}

/** A drop-tail queue limit: exactly one of the three fields is set. */
export interface QueueLimit {
  bytes?: number;
  ms?: number;
  packets?: number;
}

/** Emulation parameters for one direction of a link. Absent field = not asked for. */
export interface DirParams {
  rateMbps?: number;
  delayMs?: number;
  jitterMs?: number;
  lossPct?: number;
  burstLoss?: BurstLoss;
  reorderPct?: number;
  duplicatePct?: number;
  queue?: QueueLimit;
  /** Mahimahi packet-delivery trace, absolute path (checked to exist at load time). */
  trace?: string;
}

export interface LinkEnd {
  node: string;
  iface: string;
}

export interface LinkModel {
  /** Stable id: the user's `id:` or "<a.node>:<a.iface>--<b.node>:<b.iface>". */
  id: string;
  /** 0-based position in the file's `links:` list; used for short derived names. */
  index: number;
  a: LinkEnd;
  b: LinkEnd;
  /** Initial administrative state of both ends. */
  up: boolean;
  mtu: number;
  /** Direction a → b (applied on a's egress). */
  ab: DirParams;
  /** Direction b → a (applied on b's egress). */
  ba: DirParams;
  /** The user asked for the userspace emulator explicitly (`emulator: true`). */
  emulator: boolean;
  /** True when either direction asks for delay, jitter, loss, burst loss, reorder, duplicate or a trace. */
  needsNetem: boolean;
  /**
   * The L2 segment (subnet) this link belongs to. Links joined by a switch share one segment.
   * Index into LabModel.segments.
   */
  segment: number;
  /**
   * Set only in one host's share of a multi-host lab (lab/remote/plan.ts): this link crosses to
   * another host, only `end` is here, and it is a VXLAN device instead of a veth end.
   */
  vxlan?: LinkVxlan;
}

/** A cross-host link end as a host builds it (see LinkModel.vxlan). */
export interface LinkVxlan {
  /** Which end of the link is on this host. */
  end: 'a' | 'b';
  /** VXLAN network identifier, one per link. */
  vni: number;
  /** This host's and the peer host's underlay (outer) addresses. */
  local: string;
  remote: string;
  /** UDP port (4789 unless the inventory says otherwise). */
  port: number;
  /** The peer host's name, for status. */
  peerHost: string;
}

/** A broadcast domain: one link, or all links meeting at a switch (or chain of switches). */
export interface SegmentModel {
  index: number;
  /** Link ids in this segment. */
  links: string[];
  /** "10.0.1.0/24" etc.; absent when the family is not used in this lab. */
  subnet4?: string;
  subnet6?: string;
}

export interface NodeModel {
  name: string;
  kind: NodeKind;
  backend: BackendKind;
  stack: StackKind;
  phy: PhyKind;
  /** Container image (docker backend); undefined = the project's node image. */
  image?: string;
  /** QEMU settings (vm backend only). */
  vm?: VmModel;
  /** MPTCP knobs to apply after the agent (or the kernel) is ready: `net.mptcp.*` → value. */
  knobs: Record<string, string | number>;
  /** Kernel sysctls the backend writes in the node (forwarding, ECMP hash policy…). */
  sysctls: Record<string, string | number>;
  interfaces: IfaceModel[];
  /**
   * Routes to add (main and per-interface tables). Connected routes of the main table are not
   * listed: the kernel creates them when the addresses are added. IPv6 addresses should be added
   * with `nodad` so they are usable at once. See iproute.ts for batch-safe `ip` lines.
   */
  routes: RouteModel[];
  rules: RuleModel[];
  /** Routers forward; hosts and switches do not (switches bridge). */
  forwarding: boolean;
  /** Switches only: bridge device name inside the node; every interface is enslaved to it. */
  bridge?: string;
  /** Namespace name: mplab-<lab>-<node>. */
  netns: string;
  /** The inventory host the file pins this node to (`host:`); absent = placed automatically. */
  host?: string;
  /** Every address of the node (all interfaces), IPv4 first, in interface order. */
  addresses: string[];
}

export interface LinkEventTarget {
  /** LinkModel.id */
  link: string;
  /** The endpoint the user named ("client:wifi"), or the link id. */
  target: string;
}

/** A scenario event. `at` is milliseconds from the start of the run. */
export type ScenarioEvent =
  | ({ at: number; action: 'link-down' } & LinkEventTarget)
  | ({ at: number; action: 'link-up' } & LinkEventTarget)
  | ({
      at: number;
      action: 'link-set';
      /** Which direction(s) change: a→b, b→a or both. */
      dir: 'ab' | 'ba' | 'both';
      /** Only the fields present change; the rest keep their values. */
      params: DirParams;
    } & LinkEventTarget)
  | {
      at: number;
      action: 'sysctl';
      /** Node name, or "all" for every node running a stack. */
      target: string;
      /** Nodes the event applies to (resolved from target). */
      nodes: string[];
      key: string;
      value: string | number;
    };

export interface LabModel {
  name: string;
  /** Absolute path of the topology file. */
  file: string;
  /** Prefix of every host-side interface name of this lab (e.g. "mpl3fa2c1"). */
  hostIfPrefix: string;
  /** Whether IPv4 / IPv6 addresses were planned. */
  ipv4: boolean;
  ipv6: boolean;
  nodes: NodeModel[];
  links: LinkModel[];
  segments: SegmentModel[];
  /** Sorted by time (stable). */
  events: ScenarioEvent[];
}

/** A problem in a topology file. line and col are 1-based. */
export interface TopologyIssue {
  file: string;
  line: number;
  col: number;
  message: string;
}

export class TopologyError extends Error {
  readonly issues: TopologyIssue[];
  constructor(issues: TopologyIssue[]) {
    super(TopologyError.formatIssues(issues));
    this.name = 'TopologyError';
    this.issues = issues;
  }
  static formatIssues(issues: readonly TopologyIssue[]): string {
    return issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}`).join('\n');
  }
  /** One `file:line:col: message` line per issue. */
  format(): string {
    return TopologyError.formatIssues(this.issues);
  }
}

export interface LoadOverrides {
  /** Replaces the file's `name:`. */
  name?: string;
  /** Forces every node onto this backend ("netns" | "docker" | "vm"). */
  backend?: string;
  /**
   * Host names of the inventory in use (`--hosts`), `local` included; a node pinning another host
   * is an issue at its `host:`. Undefined: no inventory, so only `host: local` may be pinned.
   */
  hosts?: string[];
}

/** Entry point signature (implemented in lab/topology/index.ts). */
export type LoadTopology = (file: string, overrides?: LoadOverrides) => Promise<LabModel>;
