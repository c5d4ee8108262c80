/**
 * Hand-built LabModels for the lab's integration tests, shaped exactly like the topology planner's
 * output (lab/topology/model.ts), so the backend is tested independently of the YAML loader.
 */
import type {
  DirParams,
  IfaceModel,
  LabModel,
  LinkModel,
  NodeModel,
  StackKind,
} from '../../../lab/topology/model';

function mac(i: number, j: number): string {
  return `02:00:00:00:${i.toString(16).padStart(2, '0')}:${j.toString(16).padStart(2, '0')}`;
}

/** Two hosts a and b joined by `paths` direct links eth1..ethN, 10.0.<k>.1/.2, policy routing. */
export function twoHost(
  name: string,
  opts: {
    paths?: number;
    stack?: StackKind;
    params?: DirParams;
    knobs?: Record<string, string | number>;
  } = {},
): LabModel {
  const paths = opts.paths ?? 2;
  const links: LinkModel[] = [];
  const nodes: NodeModel[] = (['a', 'b'] as const).map((n, ni) => {
    const interfaces: IfaceModel[] = [];
    const routes: NodeModel['routes'] = [];
    const rules: NodeModel['rules'] = [];
    for (let k = 1; k <= paths; k++) {
      const address = `10.0.${k}.${ni + 1}`;
      interfaces.push({
        name: `eth${k}`,
        link: `l${k}`,
        peer: { node: ni === 0 ? 'b' : 'a', iface: `eth${k}` },
        mtu: 1500,
        addresses: [{ family: 4, address, prefix: 24, subnet: `10.0.${k}.0/24`, planned: true }],
        mac: mac(ni, k),
        hostName: `mpt${k}${n}`,
        table: 100 + k,
      });
      routes.push({ family: 4, dst: `10.0.${k}.0/24`, dev: `eth${k}`, table: 100 + k, src: address });
      rules.push({ family: 4, from: `${address}/32`, table: 100 + k, priority: 1000 + k });
    }
    return {
      name: n,
      kind: 'host',
      backend: 'netns',
      stack: opts.stack ?? 'ts',
      phy: 'udp',
      knobs: opts.knobs ?? {},
      sysctls: {},
      interfaces,
      routes,
      rules,
      forwarding: false,
      netns: `mplab-${name}-${n}`,
      addresses: interfaces.map((i) => i.addresses[0]?.address ?? ''),
    };
  });
  for (let k = 1; k <= paths; k++) {
    links.push({
      id: `l${k}`,
      index: k - 1,
      a: { node: 'a', iface: `eth${k}` },
      b: { node: 'b', iface: `eth${k}` },
      up: true,
      mtu: 1500,
      ab: { ...opts.params },
      ba: { ...opts.params },
      emulator: false,
      needsNetem: false,
      segment: k - 1,
    });
  }
  return {
    name,
    file: '/dev/null',
    hostIfPrefix: 'mpt',
    ipv4: true,
    ipv6: false,
    nodes,
    links,
    segments: links.map((l, i) => ({ index: i, links: [l.id], subnet4: `10.0.${i + 1}.0/24` })),
    events: [],
  };
}

/** A chain h0 - r1 - ... - r(n-2) - h(n-1): n nodes, n-1 links, static routes, routers forward. */
export function chain(name: string, n: number, stack: StackKind = 'none'): LabModel {
  const nodes: NodeModel[] = [];
  const links: LinkModel[] = [];
  const subnet = (k: number) => `10.${(k >> 8) & 255}.${k & 255}`;
  for (let i = 0; i < n; i++) {
    const interfaces: IfaceModel[] = [];
    if (i > 0)
      interfaces.push({
        name: 'left',
        link: `c${i - 1}`,
        peer: { node: `n${i - 1}`, iface: 'right' },
        mtu: 1500,
        addresses: [
          {
            family: 4,
            address: `${subnet(i - 1)}.2`,
            prefix: 24,
            subnet: `${subnet(i - 1)}.0/24`,
            planned: true,
          },
        ],
        mac: mac(i, 1),
        hostName: `mpc${i}l`,
      });
    if (i < n - 1)
      interfaces.push({
        name: 'right',
        link: `c${i}`,
        peer: { node: `n${i + 1}`, iface: 'left' },
        mtu: 1500,
        addresses: [
          { family: 4, address: `${subnet(i)}.1`, prefix: 24, subnet: `${subnet(i)}.0/24`, planned: true },
        ],
        mac: mac(i, 2),
        hostName: `mpc${i}r`,
      });
    const routes: NodeModel['routes'] = [];
    for (let k = 0; k < n - 1; k++) {
      if (k === i || k === i - 1) continue;
      routes.push(
        k > i
          ? { family: 4, dst: `${subnet(k)}.0/24`, via: `${subnet(i)}.2`, dev: 'right' }
          : { family: 4, dst: `${subnet(k)}.0/24`, via: `${subnet(i - 1)}.1`, dev: 'left' },
      );
    }
    const router = i > 0 && i < n - 1;
    nodes.push({
      name: `n${i}`,
      kind: router ? 'router' : 'host',
      backend: 'netns',
      stack: router ? 'none' : stack,
      phy: 'udp',
      knobs: {},
      sysctls: {},
      interfaces,
      routes,
      rules: [],
      forwarding: router,
      netns: `mplab-${name}-n${i}`,
      addresses: interfaces.map((x) => x.addresses[0]?.address ?? ''),
    });
    if (i < n - 1)
      links.push({
        id: `c${i}`,
        index: i,
        a: { node: `n${i}`, iface: 'right' },
        b: { node: `n${i + 1}`, iface: 'left' },
        up: true,
        mtu: 1500,
        ab: {},
        ba: {},
        emulator: false,
        needsNetem: false,
        segment: i,
      });
  }
  return {
    name,
    file: '/dev/null',
    hostIfPrefix: 'mpc',
    ipv4: true,
    ipv6: false,
    nodes,
    links,
    segments: links.map((l, i) => ({ index: i, links: [l.id], subnet4: `${subnet(i)}.0/24` })),
    events: [],
  };
}
