// Semantic checks and planning: from the syntactically valid file to the LabModel. Checks every
// name, endpoint, address and event; plans interface names, addresses, MACs, host-side names,
// per-interface policy routing and static routes (shortest paths over the link graph, ECMP on
// routers). Collects every problem instead of stopping at the first.

import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  bits,
  type Cidr,
  formatIp,
  formatSubnet,
  hostPart,
  hostRange,
  mask,
  network,
  overlaps,
  parseCidr,
} from './addr';
import { checkKnob } from './knobs';
import type {
  AddressModel,
  BackendKind,
  BurstLoss,
  DirParams,
  Family,
  IfaceModel,
  LabModel,
  LinkModel,
  NodeKind,
  NodeModel,
  PhyKind,
  RouteModel,
  RuleModel,
  ScenarioEvent,
  SegmentModel,
  StackKind,
  VmModel,
} from './model';
import type { Issues, Path } from './positions';
import { ifName, labName, type RawDirParams, type RawEvent, type RawTopology, type RawVm } from './schema';
import { didYouMean } from './suggest';
import { parsePercent, parseQueue, parseRate, parseTime } from './units';
import { memoryProblem, parseMemory, VM_DEFAULT_MEMORY_MIB } from '../vm/spec';

export interface PlanOptions {
  /** Absolute path of the topology file (traces resolve relative to it). */
  file: string;
  name?: string;
  backend?: BackendKind;
  /** Node names in file order. */
  nodeOrder?: string[];
  /** Inventory host names (`local` included) a node may pin with `host:`; see LoadOverrides.hosts. */
  hosts?: string[];
}

/** First table number for per-interface policy routing; interface k (1-based) uses BASE + k. */
export const TABLE_BASE = 100;
/** Priority of the first source rule; interface k uses RULE_PRIORITY_BASE + k. */
export const RULE_PRIORITY_BASE = 1000;

/** Names Linux refuses or ip(8) parses as keywords ("ip link set up …"). */
const RESERVED_IFNAMES = new Set([
  'lo',
  'all',
  'default',
  'up',
  'down',
  'dev',
  'name',
  'type',
  'help',
  'master',
  'nomaster',
  'mtu',
  'address',
  'netns',
  'alias',
  'group',
  'via',
  'src',
  'table',
  'from',
  'to',
  'nexthop',
  'link',
]);

interface NodeDraft {
  name: string;
  kind: NodeKind;
  backend: BackendKind;
  stack: StackKind;
  phy: PhyKind;
  image?: string;
  vm?: VmModel;
  host?: string;
  knobs: Record<string, string | number>;
  declared: string[];
  path: Path;
}

interface EndDraft {
  node: string;
  iface: string;
  path: Path;
}

interface LinkDraft {
  index: number;
  a: EndDraft;
  b: EndDraft;
  path: Path;
}

/** A non-switch interface attached to a segment. */
interface Attachment {
  node: string;
  iface: string;
  link: number;
  addr: Partial<Record<Family, Cidr>>;
  addrPath: Partial<Record<Family, Path>>;
}

function shortHash(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

function derivedMac(lab: string, node: string, iface: string): string {
  const h = createHash('sha256').update(`${lab}/${node}/${iface}`).digest();
  const bytes = [0x02, h[0]!, h[1]!, h[2]!, h[3]!, h[4]!];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function lineOf(issues: Issues, path: Path): number {
  return issues.src.linePos(issues.src.offset(path)).line;
}

export function plan(raw: RawTopology, issues: Issues, opts: PlanOptions): LabModel | undefined {
  const startCount = issues.count;

  // ------------------------------------------------------------------------------------ lab name
  let name = raw.name;
  if (opts.name !== undefined) {
    const r = labName.safeParse(opts.name);
    if (!r.success)
      issues.list.push({
        file: issues.src.file,
        line: 1,
        col: 1,
        message: `--name "${opts.name}": ${r.error.issues[0]?.message ?? 'invalid'}`,
      });
    name = opts.name;
  }
  if (name === undefined) {
    issues.at([], 'missing lab name: add "name: <lab>" at the top of the file, or pass --name');
    name = 'lab';
  }
  const labNameStr = name;
  const ipv4 = raw.ipv4 ?? true;
  const ipv6 = raw.ipv6 ?? false;
  if (!ipv4 && !ipv6) issues.at(['ipv4'], 'ipv4 and ipv6 are both false: a lab needs at least one family');
  const familyOn: Record<Family, boolean> = { 4: ipv4, 6: ipv6 };

  // ------------------------------------------------------------------------------------ nodes
  const nodes = new Map<string, NodeDraft>();
  const nodeDefaults = raw.defaults?.node ?? {};
  // File order (a JS object would put integer-like names such as "1" first).
  const rawNodes = (opts.nodeOrder ?? Object.keys(raw.nodes))
    .filter((k) => Object.hasOwn(raw.nodes, k))
    .map((k) => [k, raw.nodes[k]] as const);
  if (rawNodes.length === 0) issues.at(['nodes'], 'a lab needs at least one node under "nodes:"');
  for (const [nodeName, rawNode] of rawNodes) {
    const n = rawNode ?? {};
    const path: Path = ['nodes', nodeName];
    const kind: NodeKind = n.kind ?? nodeDefaults.kind ?? 'host';
    const isHost = kind === 'host';
    // Node defaults for stack and phy apply to hosts; routers and switches run no stack.
    const stack: StackKind = n.stack ?? (isHost ? (nodeDefaults.stack ?? 'ts') : 'none');
    if (!isHost && stack !== 'none')
      issues.at([...path, 'stack'], `a ${kind} runs no MPTCP stack: use "stack: none" (or leave it out)`);
    const phy: PhyKind = n.phy ?? (stack === 'ts' ? (nodeDefaults.phy ?? 'udp') : 'udp');
    if (n.phy !== undefined && stack !== 'ts')
      issues.at(
        [...path, 'phy'],
        `phy applies only to nodes running our stack (stack: ts); this one has stack: ${stack}`,
      );
    const backend: BackendKind = opts.backend ?? n.backend ?? nodeDefaults.backend ?? 'netns';
    if (n.vm !== undefined && backend !== 'vm')
      issues.atKey(
        [...path, 'vm'],
        `vm settings apply only to VM nodes (backend: vm); this node runs on ${backend}`,
      );
    const vm = backend === 'vm' ? planVm(nodeDefaults.vm, n.vm, path, dirname(opts.file), issues) : undefined;
    const knobs: Record<string, string | number> = {};
    const layers: [Record<string, string | number> | undefined, Path][] = [
      // Default knobs go to every node with a stack; node knobs are checked even without one.
      [stack !== 'none' ? nodeDefaults.knobs : undefined, ['defaults', 'node', 'knobs']],
      [n.knobs, [...path, 'knobs']],
    ];
    for (const [obj, kpath] of layers) {
      if (!obj) continue;
      if (stack === 'none' && Object.keys(obj).length > 0) {
        issues.atKey(kpath, `a node without a stack (stack: none) takes no knobs`);
        continue;
      }
      for (const [k, v] of Object.entries(obj)) {
        const r = checkKnob(stack, k, v);
        const where =
          kpath[0] === 'defaults' ? ` (default knob, for node "${nodeName}", stack: ${stack})` : '';
        if (r.ok) knobs[r.name] = r.value;
        else if (r.where === 'key') issues.atKey([...kpath, k], r.message + where);
        else issues.at([...kpath, k], r.message + where);
      }
    }
    const host = n.host ?? nodeDefaults.host;
    if (host !== undefined && host !== 'local') {
      const hostPath: Path = n.host !== undefined ? [...path, 'host'] : ['defaults', 'node', 'host'];
      if (!opts.hosts)
        issues.at(
          hostPath,
          `node "${nodeName}" is pinned to host "${host}", but no inventory was given (mplab up --hosts hosts.yaml, or MPLAB_HOSTS)`,
        );
      else if (!opts.hosts.includes(host))
        issues.at(
          hostPath,
          `no host "${host}" in the inventory (hosts: ${opts.hosts.join(', ')})${didYouMean(host, opts.hosts)}`,
        );
    }
    const declared = Object.keys(n.interfaces ?? {});
    nodes.set(nodeName, {
      name: nodeName,
      kind,
      backend,
      stack,
      phy,
      ...(n.image !== undefined || nodeDefaults.image !== undefined
        ? { image: (n.image ?? nodeDefaults.image) as string }
        : {}),
      ...(vm ? { vm } : {}),
      ...(host !== undefined ? { host } : {}),
      knobs,
      declared,
      path,
    });
  }
  const nodeNames = [...nodes.keys()];

  // ------------------------------------------------------------------------------------ links: endpoints
  const rawLinks = raw.links ?? [];
  const used = new Map<string, Path>(); // "node:iface" → endpoint path
  const drafts: (LinkDraft | undefined)[] = [];
  const bare: { link: number; side: 'a' | 'b'; node: string; path: Path }[] = [];
  rawLinks.forEach((l, i) => {
    const ends: (EndDraft | undefined)[] = [];
    l.endpoints.forEach((ep, j) => {
      const epPath: Path = ['links', i, 'endpoints', j];
      const m = /^([^:]+)(?::(.*))?$/.exec(ep.trim());
      if (!m) {
        issues.at(epPath, `expected an endpoint "node:iface" or "node", got "${ep}"`);
        ends.push(undefined);
        return;
      }
      const nodeName = m[1]!;
      const iface = m[2];
      if (!nodes.has(nodeName)) {
        issues.at(epPath, `unknown node "${nodeName}" in endpoint "${ep}"${didYouMean(nodeName, nodeNames)}`);
        ends.push(undefined);
        return;
      }
      if (iface !== undefined) {
        const r = ifName.safeParse(iface);
        if (!r.success) {
          issues.at(epPath, `bad interface name "${iface}" in "${ep}": ${r.error.issues[0]?.message}`);
          ends.push(undefined);
          return;
        }
        if (RESERVED_IFNAMES.has(iface)) {
          issues.at(
            epPath,
            `interface name "${iface}" is reserved: Linux or ip(8) reads it as a keyword; choose another (e.g. "${iface}0")`,
          );
          ends.push(undefined);
          return;
        }
        const key = `${nodeName}:${iface}`;
        const prev = used.get(key);
        if (prev) {
          issues.at(
            epPath,
            `interface "${key}" is already an endpoint of another link (line ${lineOf(issues, prev)}); ` +
              'each interface joins one link',
          );
          ends.push(undefined);
          return;
        }
        used.set(key, epPath);
        ends.push({ node: nodeName, iface, path: epPath });
      } else {
        bare.push({ link: i, side: j === 0 ? 'a' : 'b', node: nodeName, path: epPath });
        ends.push({ node: nodeName, iface: '', path: epPath });
      }
    });
    const [a, b] = ends;
    if (a && b && a.node === b.node)
      issues.at(['links', i, 'endpoints'], `a link joins two different nodes; both ends are on "${a.node}"`);
    drafts.push(a && b ? { index: i, a, b, path: ['links', i] } : undefined);
  });
  // Plan names for bare endpoints: eth<k>, the lowest k free on the node.
  for (const e of bare) {
    const d = drafts[e.link];
    if (!d) continue;
    let k = 1;
    while (used.has(`${e.node}:eth${k}`) || nodes.get(e.node)?.declared.includes(`eth${k}`)) k++;
    used.set(`${e.node}:eth${k}`, e.path);
    d[e.side].iface = `eth${k}`;
  }
  // Declared interfaces must be used by a link.
  for (const n of nodes.values()) {
    for (const ifn of n.declared)
      if (!used.has(`${n.name}:${ifn}`))
        issues.atKey(
          [...n.path, 'interfaces', ifn],
          `interface "${ifn}" of node "${n.name}" is declared but no link uses it (add a link with endpoint "${n.name}:${ifn}")`,
        );
  }

  // Link ids.
  const linkIds = new Map<string, number>();
  const idOf = (i: number): string | undefined => {
    const d = drafts[i];
    const l = rawLinks[i]!;
    if (l.id) return l.id;
    return d ? `${d.a.node}:${d.a.iface}--${d.b.node}:${d.b.iface}` : undefined;
  };
  rawLinks.forEach((l, i) => {
    const id = idOf(i);
    if (id === undefined) return;
    const prev = linkIds.get(id);
    if (prev !== undefined)
      issues.at(
        l.id ? ['links', i, 'id'] : ['links', i],
        `duplicate link id "${id}" (also the link at line ${lineOf(issues, ['links', prev])})`,
      );
    else linkIds.set(id, i);
  });

  // ------------------------------------------------------------------------------------ segments
  const parent = rawLinks.map((_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const isSwitch = (n: string) => nodes.get(n)?.kind === 'switch';
  const firstLinkAtSwitch = new Map<string, number>();
  for (const d of drafts) {
    if (!d) continue;
    for (const end of [d.a, d.b]) {
      if (!isSwitch(end.node)) continue;
      const f = firstLinkAtSwitch.get(end.node);
      if (f === undefined) firstLinkAtSwitch.set(end.node, d.index);
      else parent[find(d.index)] = find(f);
    }
  }
  const segOfRoot = new Map<number, number>();
  const segOfLink: number[] = [];
  const segments: SegmentModel[] = [];
  drafts.forEach((d, i) => {
    if (!d) return;
    const root = find(i);
    let s = segOfRoot.get(root);
    if (s === undefined) {
      s = segments.length;
      segOfRoot.set(root, s);
      segments.push({ index: s, links: [] });
    }
    segOfLink[i] = s;
    segments[s]!.links.push(idOf(i)!);
  });

  // ------------------------------------------------------------------------------------ addresses
  const attachments: Attachment[][] = segments.map(() => []);
  const attachOf = new Map<string, Attachment>(); // "node:iface"
  for (const d of drafts) {
    if (!d) continue;
    for (const end of [d.a, d.b]) {
      if (isSwitch(end.node)) continue;
      const att: Attachment = { node: end.node, iface: end.iface, link: d.index, addr: {}, addrPath: {} };
      attachments[segOfLink[d.index]!]!.push(att);
      attachOf.set(`${end.node}:${end.iface}`, att);
    }
  }
  const usedAddr = new Map<string, Path>();
  for (const [nodeName, rawNode] of rawNodes) {
    for (const [ifn, rawIf] of Object.entries(rawNode?.interfaces ?? {})) {
      const addrs = rawIf?.addresses ?? [];
      const ipath: Path = ['nodes', nodeName, 'interfaces', ifn];
      if (addrs.length > 0 && isSwitch(nodeName)) {
        issues.at([...ipath, 'addresses'], 'a switch port has no addresses (the switch only bridges)');
        continue;
      }
      const att = attachOf.get(`${nodeName}:${ifn}`);
      const addOne = (text: string, k: number): undefined => {
        const apath: Path = [...ipath, 'addresses', k];
        const r = parseCidr(text.trim());
        if (!r.ok) return issues.at(apath, r.message);
        const c = r.cidr;
        const problem = unusable(c);
        if (problem) return issues.at(apath, `${text}: ${problem}`);
        if (!familyOn[c.family])
          return issues.at(
            apath,
            `${text} is an IPv${c.family} address but the lab has ipv${c.family}: false`,
          );
        const key = `${c.family}/${c.addr}`;
        const prev = usedAddr.get(key);
        if (prev)
          return issues.at(
            apath,
            `address ${formatIp(c.family, c.addr)} is already used (line ${lineOf(issues, prev)})`,
          );
        usedAddr.set(key, apath);
        if (!att) return;
        if (att.addr[c.family])
          return issues.at(apath, `one IPv${c.family} address per interface; "${ifn}" already has one`);
        att.addr[c.family] = c;
        att.addrPath[c.family] = apath;
      };
      addrs.forEach((text, k) => {
        addOne(text, k);
      });
    }
  }
  // Subnet per segment and family: from the links' subnet keys and the user's addresses.
  const segSubnet: Partial<Record<Family, { cidr: Cidr; path: Path }>>[] = segments.map(() => ({}));
  drafts.forEach((d, i) => {
    if (!d) return;
    const s = segOfLink[i]!;
    const l = rawLinks[i]!;
    for (const [key, fam] of [
      ['subnet', 4],
      ['subnet6', 6],
    ] as const) {
      const text = l[key];
      if (text === undefined) continue;
      const p: Path = ['links', i, key];
      const r = parseCidr(text.trim());
      if (!r.ok) {
        issues.at(p, r.message);
        continue;
      }
      if (r.cidr.family !== fam) {
        issues.at(
          p,
          `${key} expects an IPv${fam} subnet, got the IPv${r.cidr.family} ${text}` +
            (fam === 4 ? ' (use subnet6 for IPv6)' : ' (use subnet for IPv4)'),
        );
        continue;
      }
      if (!familyOn[fam]) {
        issues.at(p, `${key} is set but the lab has ipv${fam}: false`);
        continue;
      }
      if (hostPart(r.cidr) !== 0n) {
        issues.at(p, `${text} has host bits set; did you mean ${formatSubnet(r.cidr)}?`);
        continue;
      }
      const { first, last } = hostRange(fam, r.cidr.prefix);
      if (last - first + 1n < 2n) {
        issues.at(p, `${text} is too small for the two ends of a link`);
        continue;
      }
      const prev = segSubnet[s]![fam];
      if (prev && (network(prev.cidr) !== network(r.cidr) || prev.cidr.prefix !== r.cidr.prefix))
        issues.at(p, `${text} differs from the subnet ${formatSubnet(prev.cidr)} of the same segment`);
      else segSubnet[s]![fam] = { cidr: r.cidr, path: p };
    }
  });
  attachments.forEach((atts, s) => {
    for (const att of atts) {
      for (const fam of [4, 6] as const) {
        const c = att.addr[fam];
        if (!c) continue;
        const p = att.addrPath[fam]!;
        const prev = segSubnet[s]![fam];
        if (!prev) segSubnet[s]![fam] = { cidr: { ...c, addr: network(c) }, path: p };
        else if (prev.cidr.prefix !== c.prefix || network(prev.cidr) !== network(c))
          issues.at(
            p,
            `${formatIp(fam, c.addr)}/${c.prefix} is not in ${formatSubnet(prev.cidr)}, the subnet of this ` +
              `link (line ${lineOf(issues, prev.path)}); both ends of a link share one subnet`,
          );
      }
    }
  });
  // User subnets of different segments must not overlap.
  const userSubnets: { seg: number; cidr: Cidr; path: Path }[] = [];
  segSubnet.forEach((fams, seg) => {
    for (const fam of [4, 6] as const) {
      const x = fams[fam];
      if (!x) continue;
      const clash = userSubnets.find((u) => overlaps(u.cidr, x.cidr));
      if (clash)
        issues.at(
          x.path,
          `subnet ${formatSubnet(x.cidr)} overlaps ${formatSubnet(clash.cidr)} of another link ` +
            `(line ${lineOf(issues, clash.path)}); each link needs its own subnet`,
        );
      userSubnets.push({ seg, cidr: x.cidr, path: x.path });
    }
  });
  // Plan subnets where none was given: 10.<c/256>.<c%256>.0/24 and fd00:0:0:<c>::/64.
  let counter4 = 1;
  let counter6 = 1;
  segments.forEach((seg, s) => {
    const atts = attachments[s]!;
    for (const fam of [4, 6] as const) {
      if (!familyOn[fam] || segSubnet[s]![fam]) continue;
      if (atts.length === 0) continue; // switches only: nothing to address
      for (;;) {
        const c = fam === 4 ? counter4++ : counter6++;
        if (fam === 4 && c > 0xffff) break;
        const cidr: Cidr =
          fam === 4
            ? { family: 4, addr: (10n << 24n) | (BigInt(c) << 8n), prefix: 24 }
            : { family: 6, addr: (0xfd00n << 112n) | (BigInt(c) << 64n), prefix: 64 };
        if (userSubnets.some((u) => overlaps(u.cidr, cidr))) continue;
        segSubnet[s]![fam] = { cidr, path: ['links', rawLinks.findIndex((_, i) => segOfLink[i] === s)] };
        break;
      }
    }
    const s4 = segSubnet[s]![4];
    const s6 = segSubnet[s]![6];
    if (s4) seg.subnet4 = formatSubnet(s4.cidr);
    if (s6) seg.subnet6 = formatSubnet(s6.cidr);
  });
  // Host numbers for interfaces without an address: the lowest free, in link order.
  attachments.forEach((atts, s) => {
    for (const fam of [4, 6] as const) {
      const sub = segSubnet[s]![fam];
      if (!sub) continue;
      const taken = new Set<bigint>();
      for (const a of atts) if (a.addr[fam]) taken.add(hostPart(a.addr[fam]!));
      const { first, last } = hostRange(fam, sub.cidr.prefix);
      let next = first;
      for (const a of atts) {
        if (a.addr[fam]) continue;
        while (taken.has(next) || usedAddr.has(`${fam}/${network(sub.cidr) | next}`)) next++;
        if (next > last) {
          issues.at(
            ['links', a.link],
            `subnet ${formatSubnet(sub.cidr)} has no free address for ${a.node}:${a.iface}`,
          );
          break;
        }
        a.addr[fam] = { family: fam, addr: network(sub.cidr) | next, prefix: sub.cidr.prefix };
        usedAddr.set(`${fam}/${network(sub.cidr) | next}`, ['links', a.link]);
        taken.add(next);
      }
    }
  });

  // ------------------------------------------------------------------------------------ link params
  const fileDir = dirname(opts.file);
  const linkDefaults = raw.defaults?.link ?? {};
  const links: LinkModel[] = [];
  drafts.forEach((d, i) => {
    if (!d) return;
    const l = rawLinks[i]!;
    const lp: Path = ['links', i];
    for (const [x, y] of [
      ['a->b', 'ab'],
      ['b->a', 'ba'],
    ] as const)
      if (l[x] && l[y]) issues.atKey([...lp, y], `"${x}" and "${y}" are the same direction; give only one`);
    const base: Layer[] = [
      { obj: linkDefaults, path: ['defaults', 'link'] },
      { obj: l, path: lp },
    ];
    const ab = dirParams([...base, dirLayer(l, lp, 'a->b', 'ab')], issues, fileDir);
    const ba = dirParams([...base, dirLayer(l, lp, 'b->a', 'ba')], issues, fileDir);
    const mtu = l.mtu ?? linkDefaults.mtu ?? 1500;
    const usesV6 = segSubnet[segOfLink[i]!]![6] !== undefined;
    if (usesV6 && mtu < 1280)
      issues.at(
        l.mtu !== undefined ? [...lp, 'mtu'] : ['defaults', 'link', 'mtu'],
        `IPv6 needs an MTU of at least 1280, got ${mtu}`,
      );
    links.push({
      id: idOf(i)!,
      index: i,
      a: { node: d.a.node, iface: d.a.iface },
      b: { node: d.b.node, iface: d.b.iface },
      up: l.up ?? linkDefaults.up ?? true,
      mtu,
      ab,
      ba,
      emulator: l.emulator ?? linkDefaults.emulator ?? false,
      needsNetem: needsNetem(ab) || needsNetem(ba),
      segment: segOfLink[i]!,
    });
  });

  // ------------------------------------------------------------------------------------ interfaces
  const hostIfPrefix = `mpl${shortHash(labNameStr, 6)}`;
  const ifacesOf = new Map<string, IfaceModel[]>();
  const userMacs = new Map<string, Path>();
  for (const n of nodes.values()) ifacesOf.set(n.name, []);
  const ifaceDrafts = new Map<string, { link: LinkModel; side: 'a' | 'b' }[]>();
  for (const link of links)
    for (const side of ['a', 'b'] as const) {
      const e = link[side];
      const list = ifaceDrafts.get(e.node) ?? [];
      list.push({ link, side });
      ifaceDrafts.set(e.node, list);
    }
  for (const n of nodes.values()) {
    const list = ifaceDrafts.get(n.name) ?? [];
    // Declared interfaces first, in declared order; then the rest in link order.
    const order = (x: { link: LinkModel; side: 'a' | 'b' }) => {
      const k = n.declared.indexOf(x.link[x.side].iface);
      return k < 0 ? n.declared.length + x.link.index : k;
    };
    list.sort((x, y) => order(x) - order(y) || (x.side < y.side ? -1 : 1));
    const rawIfs = raw.nodes[n.name]?.interfaces ?? {};
    for (const { link, side } of list) {
      const e = link[side];
      const other = link[side === 'a' ? 'b' : 'a'];
      const rawIf = rawIfs[e.iface] ?? undefined;
      const att = attachOf.get(`${n.name}:${e.iface}`);
      const addresses: AddressModel[] = [];
      for (const fam of [4, 6] as const) {
        const c = att?.addr[fam];
        if (!c) continue;
        addresses.push({
          family: fam,
          address: formatIp(fam, c.addr),
          prefix: c.prefix,
          subnet: formatSubnet(c),
          planned: att?.addrPath[fam] === undefined,
        });
      }
      let mac: string;
      if (rawIf?.mac) {
        mac = rawIf.mac.toLowerCase();
        const mpath: Path = ['nodes', n.name, 'interfaces', e.iface, 'mac'];
        const first = Number.parseInt(mac.slice(0, 2), 16);
        if (first & 1)
          issues.at(
            mpath,
            `${rawIf.mac} is a multicast MAC address; the lowest bit of the first byte must be 0`,
          );
        const prev = userMacs.get(mac);
        if (prev) issues.at(mpath, `MAC address ${rawIf.mac} is already used (line ${lineOf(issues, prev)})`);
        userMacs.set(mac, mpath);
      } else mac = derivedMac(labNameStr, n.name, e.iface);
      const mtu = rawIf?.mtu ?? link.mtu;
      ifacesOf.get(n.name)!.push({
        name: e.iface,
        link: link.id,
        peer: { node: other.node, iface: other.iface },
        mtu,
        addresses,
        mac,
        hostName: `${hostIfPrefix}${link.index.toString(36)}${side}`,
      });
    }
  }

  // ------------------------------------------------------------------------------------ routing
  const forwarding = (n: string) => nodes.get(n)?.kind === 'router';
  // Lookups by "node:iface": interface position in its node (1-based) and segment.
  const posMap = new Map<string, number>();
  for (const [node, list] of ifacesOf)
    for (const [k, x] of list.entries()) posMap.set(`${node}:${x.name}`, k + 1);
  const segMap = new Map<string, number>();
  for (const l of links) {
    segMap.set(`${l.a.node}:${l.a.iface}`, l.segment);
    segMap.set(`${l.b.node}:${l.b.iface}`, l.segment);
  }
  const pos = (node: string, iface: string) => posMap.get(`${node}:${iface}`) ?? 0;
  const segOfIface = (node: string, iface: string): number | undefined => segMap.get(`${node}:${iface}`);
  type Hop = { via: string; dev: string };
  // routesTo[fam][seg] = Map node → { dist, hops }
  const reach: Record<Family, Map<string, { dist: number; hops: Hop[] }>[]> = { 4: [], 6: [] };
  for (const fam of [4, 6] as const) {
    segments.forEach((_, s) => {
      const res = new Map<string, { dist: number; hops: Hop[] }>();
      reach[fam][s] = res;
      if (!segSubnet[s]![fam]) return;
      const queue: string[] = [];
      for (const a of attachments[s]!) {
        if (!a.addr[fam] || res.has(a.node)) continue;
        res.set(a.node, { dist: 0, hops: [] });
        if (forwarding(a.node)) queue.push(a.node);
      }
      for (let qi = 0; qi < queue.length; qi++) {
        const r = queue[qi]!;
        const d = res.get(r)!.dist;
        for (const rif of ifacesOf.get(r) ?? []) {
          const t = segOfIface(r, rif.name);
          if (t === undefined) continue;
          const rAddr = attachOf.get(`${r}:${rif.name}`)?.addr[fam];
          if (!rAddr) continue;
          let via: string | undefined;
          for (const nb of attachments[t]!) {
            if (nb.node === r || !nb.addr[fam]) continue;
            const cur = res.get(nb.node);
            if (cur !== undefined && cur.dist !== d + 1) continue;
            via ??= formatIp(fam, rAddr.addr);
            if (cur === undefined) {
              res.set(nb.node, { dist: d + 1, hops: [{ via, dev: nb.iface }] });
              if (forwarding(nb.node)) queue.push(nb.node);
            } else if (!cur.hops.some((h) => h.via === via && h.dev === nb.iface))
              cur.hops.push({ via, dev: nb.iface });
          }
        }
      }
      for (const [node, v] of res)
        v.hops.sort((x, y) => pos(node, x.dev) - pos(node, y.dev) || cmpAddr(x.via, y.via));
    });
  }

  const nodeModels: NodeModel[] = [];
  for (const n of nodes.values()) {
    const ifaces = ifacesOf.get(n.name)!;
    const routes: RouteModel[] = [];
    const rules: RuleModel[] = [];
    const sysctls: Record<string, string | number> = {};
    const isRouter = n.kind === 'router';
    const v4used = ifaces.some((i) => i.addresses.some((a) => a.family === 4));
    const v6used = ifaces.some((i) => i.addresses.some((a) => a.family === 6));
    if (v4used) {
      sysctls['net.ipv4.conf.all.rp_filter'] = 0;
      sysctls['net.ipv4.conf.default.rp_filter'] = 0;
    }
    if (v6used) {
      sysctls['net.ipv6.conf.all.accept_dad'] = 0;
      sysctls['net.ipv6.conf.default.accept_dad'] = 0;
    }
    if (isRouter) {
      if (v4used) sysctls['net.ipv4.ip_forward'] = 1;
      if (v6used) sysctls['net.ipv6.conf.all.forwarding'] = 1;
    }
    const addressed = ifaces.filter((i) => i.addresses.length > 0);
    const multihomed = n.kind === 'host' && addressed.length >= 2;
    let ecmp = false;
    for (const fam of [4, 6] as const) {
      const famIfs = ifaces.filter((i) => i.addresses.some((a) => a.family === fam));
      if (famIfs.length === 0) continue;
      const gateway = (iface: IfaceModel): string | undefined => {
        const s = segOfIface(n.name, iface.name);
        if (s === undefined) return undefined;
        const gw = attachments[s]!.find((a) => a.node !== n.name && forwarding(a.node) && a.addr[fam]);
        return gw ? formatIp(fam, gw.addr[fam]!.addr) : undefined;
      };
      if (multihomed) {
        for (const iface of famIfs) {
          const k = ifaces.indexOf(iface) + 1;
          const table = TABLE_BASE + k;
          iface.table = table;
          const a = iface.addresses.find((x) => x.family === fam)!;
          routes.push({ family: fam, dst: a.subnet, dev: iface.name, table, src: a.address });
          const gw = gateway(iface);
          // Without a gateway, nothing else is reachable from this address: say so in the table, or
          // the lookup would fall through to the main table and leave by another interface.
          if (gw) routes.push({ family: fam, dst: 'default', via: gw, dev: iface.name, table });
          else routes.push({ family: fam, dst: 'default', type: 'unreachable', table });
          rules.push({
            family: fam,
            from: `${a.address}/${bits(fam)}`,
            table,
            priority: RULE_PRIORITY_BASE + k,
          });
        }
      }
      const own = new Set(famIfs.map((i) => segOfIface(n.name, i.name)));
      if (n.kind === 'host') {
        const defIf = famIfs.find((i) => gateway(i) !== undefined);
        const def = defIf ? { via: gateway(defIf)!, dev: defIf.name } : undefined;
        segments.forEach((seg, s) => {
          if (own.has(s)) return;
          const r = reach[fam][s]?.get(n.name);
          const dst = fam === 4 ? seg.subnet4 : seg.subnet6;
          if (!r || r.hops.length === 0 || !dst) return;
          if (def && r.hops.some((h) => h.via === def.via && h.dev === def.dev)) return;
          const h = r.hops[0]!;
          routes.push({ family: fam, dst, via: h.via, dev: h.dev });
        });
        if (def) routes.push({ family: fam, dst: 'default', via: def.via, dev: def.dev });
      } else if (isRouter) {
        segments.forEach((seg, s) => {
          if (own.has(s)) return;
          const r = reach[fam][s]?.get(n.name);
          const dst = fam === 4 ? seg.subnet4 : seg.subnet6;
          if (!r || r.hops.length === 0 || !dst) return;
          if (r.hops.length === 1)
            routes.push({ family: fam, dst, via: r.hops[0]!.via, dev: r.hops[0]!.dev });
          else {
            ecmp = true;
            routes.push({ family: fam, dst, nexthops: r.hops.map((h) => ({ via: h.via, dev: h.dev })) });
          }
        });
      }
    }
    if (ecmp) {
      // Hash on the 5-tuple so subflows with different ports spread over the equal-cost paths.
      if (v4used) sysctls['net.ipv4.fib_multipath_hash_policy'] = 1;
      if (v6used) sysctls['net.ipv6.fib_multipath_hash_policy'] = 1;
    }
    nodeModels.push({
      name: n.name,
      kind: n.kind,
      backend: n.backend,
      stack: n.stack,
      phy: n.phy,
      ...(n.image !== undefined ? { image: n.image } : {}),
      ...(n.vm !== undefined ? { vm: n.vm } : {}),
      ...(n.host !== undefined ? { host: n.host } : {}),
      knobs: n.knobs,
      sysctls,
      interfaces: ifaces,
      routes,
      rules,
      forwarding: isRouter,
      ...(n.kind === 'switch' ? { bridge: 'br0' } : {}),
      netns: `mplab-${labNameStr}-${n.name}`,
      addresses: [4, 6].flatMap((fam) =>
        ifaces.flatMap((i) => i.addresses.filter((a) => a.family === fam).map((a) => a.address)),
      ),
    });
  }

  // ------------------------------------------------------------------------------------ events
  const events = planEvents(raw.events ?? [], ['events'], issues, links, nodeModels, fileDir);

  if (issues.count > startCount) return undefined;
  return {
    name: labNameStr,
    file: opts.file,
    hostIfPrefix,
    ipv4,
    ipv6,
    nodes: nodeModels,
    links,
    segments,
    events,
  };
}

function cmpAddr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why an address cannot sit on a lab interface, or undefined. */
function unusable(c: Cidr): string | undefined {
  const v = c.addr;
  if (c.family === 4) {
    const first = Number(v >> 24n);
    if (first === 0) return 'addresses in 0.0.0.0/8 are not usable on an interface';
    if (first === 127) return 'loopback addresses (127.0.0.0/8) are not usable on a lab interface';
    if (first >= 224) return 'multicast and reserved addresses (224.0.0.0/3) are not usable on an interface';
    if (c.prefix < 31) {
      const hp = hostPart(c);
      if (hp === 0n) return `it is the network address of ${formatSubnet(c)}; use a host address`;
      if (hp === (1n << BigInt(32 - c.prefix)) - 1n)
        return `it is the broadcast address of ${formatSubnet(c)}`;
    }
    return undefined;
  }
  if (v === 0n || v === 1n) return 'the unspecified and loopback addresses are not usable on a lab interface';
  if (v >> 120n === 0xffn) return 'multicast addresses (ff00::/8) are not usable on an interface';
  if ((v & mask(6, 10)) === 0xfe80n << 112n)
    return "link-local addresses (fe80::/10) are the kernel's own; give a global or ULA address (fd00::/8)";
  if (c.prefix < 127 && hostPart(c) === 0n)
    return `it is the subnet-router anycast address of ${formatSubnet(c)}; use a host address`;
  return undefined;
}

// -------------------------------------------------------------------------------------- directions

interface Layer {
  obj: RawDirParams | undefined;
  path: Path;
}

function dirLayer(l: Record<string, unknown>, lp: Path, arrow: string, short: string): Layer {
  if (l[arrow] !== undefined) return { obj: l[arrow] as RawDirParams, path: [...lp, arrow] };
  return { obj: l[short] as RawDirParams | undefined, path: [...lp, short] };
}

const DIR_KEYS = [
  'rate',
  'delay',
  'jitter',
  'loss',
  'burst-loss',
  'reorder',
  'duplicate',
  'queue',
  'trace',
] as const;

/** Merges layers (later wins, key by key) and converts units; checks combinations and traces. */
export function dirParams(layers: Layer[], issues: Issues, fileDir: string, checkJitter = true): DirParams {
  const pick = new Map<string, { value: unknown; path: Path }>();
  for (const { obj, path } of layers) {
    if (!obj) continue;
    for (const k of DIR_KEYS) {
      const v = (obj as Record<string, unknown>)[k];
      if (v !== undefined) pick.set(k, { value: v, path: [...path, k] });
    }
  }
  const out: DirParams = {};
  const num = (k: string, parse: (v: unknown) => { ok: boolean; value?: number }) => {
    const p = pick.get(k);
    if (!p) return undefined;
    const r = parse(p.value);
    return r.ok ? r.value : undefined;
  };
  const rate = num('rate', parseRate);
  if (rate !== undefined) out.rateMbps = rate;
  const delay = num('delay', parseTime);
  if (delay !== undefined) out.delayMs = delay;
  const jitter = num('jitter', parseTime);
  if (jitter !== undefined) out.jitterMs = jitter;
  const loss = num('loss', (v) => parsePercent(v));
  if (loss !== undefined) out.lossPct = loss;
  const reorder = num('reorder', (v) => parsePercent(v));
  if (reorder !== undefined) out.reorderPct = reorder;
  const dup = num('duplicate', (v) => parsePercent(v));
  if (dup !== undefined) out.duplicatePct = dup;
  const q = pick.get('queue');
  if (q) {
    const r = parseQueue(q.value);
    if (r.ok) out.queue = r.value;
  }
  const bl = pick.get('burst-loss');
  if (bl) {
    const o = bl.value as Record<string, unknown>;
    const pct = (k: string, dflt: number) => {
      if (o[k] === undefined) return dflt;
      const r = parsePercent(o[k]);
      return r.ok ? r.value : dflt;
    };
    const b: BurstLoss = {
      p: pct('p', 0),
      r: pct('r', 0),
      lossBad: pct('loss-bad', 100),
      lossGood: pct('loss-good', 0),
    };
    if (b.r === 0 && b.p > 0)
      issues.at([...bl.path, 'r'], 'burst-loss r is 0%: the link would never leave the bad state');
    out.burstLoss = b;
  }
  const tr = pick.get('trace');
  if (tr) {
    const rel = tr.value as string;
    const abs = resolve(fileDir, rel);
    if (!existsSync(abs)) issues.at(tr.path, `trace file "${rel}" not found (looked for ${abs})`);
    else if (!statSync(abs).isFile()) issues.at(tr.path, `trace "${rel}" is not a file`);
    out.trace = abs;
    const rp = pick.get('rate');
    if (rp) issues.at(rp.path, 'rate and trace both set: a trace defines the rate; give one of them');
  }
  if (checkJitter) {
    // A queue only fills behind a rate limit (or a trace); alone it would do nothing.
    const qp = pick.get('queue');
    if (qp && out.rateMbps === undefined && out.trace === undefined)
      issues.at(
        qp.path,
        'queue needs a rate (or a trace) on the same direction: a queue only fills behind a rate limit',
      );
    const lp = pick.get('loss');
    if (lp && bl) issues.at(lp.path, 'loss and burst-loss both set on one direction: give one loss model');
  }
  const jp = pick.get('jitter');
  if (checkJitter && jp && (out.jitterMs ?? 0) > 0 && !(out.delayMs && out.delayMs > 0))
    issues.at(jp.path, 'jitter needs a delay on the same direction (jitter varies the delay)');
  return out;
}

/** Whether a direction's parameters need netem (delay, jitter, loss, reorder, duplicate or a trace). */
export function needsNetem(d: DirParams): boolean {
  return (
    (d.delayMs ?? 0) > 0 ||
    (d.jitterMs ?? 0) > 0 ||
    (d.lossPct ?? 0) > 0 ||
    d.burstLoss !== undefined ||
    (d.reorderPct ?? 0) > 0 ||
    (d.duplicatePct ?? 0) > 0 ||
    d.trace !== undefined
  );
}

// -------------------------------------------------------------------------------------- events

/**
 * Resolves raw events against a lab's links and nodes: the one planner for a topology's `events:`
 * and for a separate events file (lab/scenario). `prefix` is where the list stands in its YAML file;
 * problems go to `issues`. Returns the events sorted by time (stable).
 */
export function planEvents(
  raw: readonly RawEvent[],
  prefix: Path,
  issues: Issues,
  links: readonly LinkModel[],
  nodes: readonly NodeModel[],
  fileDir: string,
): ScenarioEvent[] {
  const out: ScenarioEvent[] = [];
  const byEndpoint = new Map<string, { link: LinkModel; side: 'a' | 'b' }>();
  const byId = new Map<string, LinkModel>();
  for (const l of links) {
    byId.set(l.id, l);
    byEndpoint.set(`${l.a.node}:${l.a.iface}`, { link: l, side: 'a' });
    byEndpoint.set(`${l.b.node}:${l.b.iface}`, { link: l, side: 'b' });
  }
  const one = (e: RawEvent, i: number): undefined => {
    const ep: Path = [...prefix, i];
    const at = parseTime(e.at);
    if (!at.ok) return; // reported by the schema
    const actions = (['down', 'up', 'set', 'sysctl'] as const).filter((k) => e[k] !== undefined);
    if (actions.length === 0)
      return issues.at(
        ep,
        'an event needs one action: "down: true", "up: true", "set: {…}" or "sysctl: {…}"',
      );
    if (actions.length > 1)
      return issues.atKey(
        [...ep, actions[1]!],
        `an event does one thing; this one has ${actions.join(' and ')} (write one event each)`,
      );
    const action = actions[0]!;
    if (e.dir !== undefined && action !== 'set')
      issues.atKey([...ep, 'dir'], `dir applies only to "set" events`);
    if (action === 'sysctl') {
      if (e.link !== undefined) issues.atKey([...ep, 'link'], 'a sysctl event names a node, not a link');
      const s = e.sysctl!;
      const sp: Path = [...ep, 'sysctl'];
      let targets: NodeModel[];
      if (s.node === 'all') targets = nodes.filter((n) => n.stack !== 'none');
      else {
        const n = nodes.find((x) => x.name === s.node);
        if (!n)
          return issues.at(
            [...sp, 'node'],
            `unknown node "${s.node}"${didYouMean(
              s.node,
              nodes.map((x) => x.name),
            )} (or "all")`,
          );
        if (n.stack === 'none')
          return issues.at([...sp, 'node'], `node "${n.name}" runs no stack (stack: none)`);
        targets = [n];
      }
      let key = s.key;
      let value = s.value;
      for (const stack of new Set(targets.map((t) => t.stack))) {
        const r = checkKnob(stack, s.key, s.value);
        if (!r.ok) return issues.at([...sp, r.where === 'key' ? 'key' : 'value'], r.message);
        key = r.name;
        value = r.value;
      }
      out.push({
        at: at.value,
        action: 'sysctl',
        target: s.node,
        nodes: targets.map((t) => t.name),
        key,
        value,
      });
      return;
    }
    if (e.link === undefined)
      return issues.at(ep, `a "${action}" event needs "link:" naming "node:iface" or a link id`);
    const hit = byEndpoint.get(e.link);
    const link = hit?.link ?? byId.get(e.link);
    if (!link)
      return issues.at(
        [...ep, 'link'],
        `unknown link "${e.link}"${didYouMean(e.link, [...byEndpoint.keys(), ...byId.keys()])}`,
      );
    if (action === 'down' || action === 'up') {
      out.push({
        at: at.value,
        action: action === 'down' ? 'link-down' : 'link-up',
        link: link.id,
        target: e.link,
      });
      return;
    }
    let dir: 'ab' | 'ba' | 'both' = 'both';
    switch (e.dir) {
      case 'a->b':
      case 'ab':
        dir = 'ab';
        break;
      case 'b->a':
      case 'ba':
        dir = 'ba';
        break;
      case 'out':
      case 'in':
        if (!hit)
          return issues.at(
            [...ep, 'dir'],
            `dir: ${e.dir} needs the link named by an endpoint ("node:iface")`,
          );
        dir = (e.dir === 'out') === (hit.side === 'a') ? 'ab' : 'ba';
        break;
    }
    const setObj = e.set!;
    if (Object.keys(setObj).length === 0)
      return issues.at([...ep, 'set'], 'set changes nothing: give at least one parameter');
    const params = dirParams([{ obj: setObj, path: [...ep, 'set'] }], issues, fileDir, false);
    out.push({ at: at.value, action: 'link-set', link: link.id, target: e.link, dir, params });
  };
  raw.forEach((e, i) => {
    one(e, i);
  });
  return out
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.at - y.e.at || x.i - y.i)
    .map((x) => x.e);
}

/**
 * A VM node's settings: the node's `vm:` over `defaults.node.vm`, memory parsed and checked against
 * the live image's floor, kernel and initrd resolved against the topology file's folder and required
 * to exist (each problem at its own key).
 */
function planVm(
  defaults: RawVm | undefined,
  own: RawVm | undefined,
  path: Path,
  fileDir: string,
  issues: Issues,
): VmModel {
  const pick = <K extends keyof RawVm>(k: K): { value: RawVm[K]; at: Path } | undefined => {
    if (own?.[k] !== undefined) return { value: own[k], at: [...path, 'vm', k] };
    if (defaults?.[k] !== undefined) return { value: defaults[k], at: ['defaults', 'node', 'vm', k] };
    return undefined;
  };
  let memoryMib = VM_DEFAULT_MEMORY_MIB;
  const mem = pick('memory');
  if (mem) {
    const r = parseMemory(mem.value);
    if (!r.ok) issues.at(mem.at, r.message);
    else {
      const problem = memoryProblem(r.value);
      if (problem) issues.at(mem.at, `memory ${String(mem.value)}: ${problem}`);
      memoryMib = r.value;
    }
  }
  const out: VmModel = { memoryMib, cpus: pick('cpus')?.value ?? 1, accel: pick('accel')?.value ?? 'auto' };
  for (const k of ['kernel', 'initrd'] as const) {
    const f = pick(k);
    if (!f) continue;
    const abs = resolve(fileDir, f.value as string);
    let ok = false;
    try {
      ok = statSync(abs).isFile();
    } catch {
      ok = false;
    }
    if (!ok) issues.at(f.at, `${k} ${String(f.value)}: no such file (${abs})`);
    out[k] = abs;
  }
  return out;
}
