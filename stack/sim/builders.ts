/**
 * Builders for the common topologies, so tests stay short:
 * - buildPair: two hosts, one link;
 * - buildMultiPath: a client with n interfaces; each path a direct link to its own server address,
 *   or (server: 'single') n access links into a router and one link on to the server;
 * - buildDumbbell: left hosts (each with one or more interfaces) and right hosts on two routers
 *   joined by one bottleneck link.
 */
import { Host, type Link, type Router, Simulator } from './sim';
import type { CoreFactory, LinkConfig } from './types';

export type Family = 4 | 6;

/** Deterministic addresses: v4 10.net.sub.h, v6 fd00:net+1:sub+1::h (canonical text). */
export function simAddress(family: Family, net: number, sub: number, h: number): string {
  return family === 4
    ? `10.${net}.${sub}.${h}`
    : `fd00:${(net + 1).toString(16)}:${(sub + 1).toString(16)}::${h.toString(16)}`;
}

export interface PairOptions extends LinkConfig {
  factory: CoreFactory;
  /** A different core for host b (default: factory). */
  factoryB?: CoreFactory;
  seed?: number | string;
  family?: Family;
  names?: [string, string];
}

export interface Pair {
  sim: Simulator;
  a: Host;
  b: Host;
  link: Link;
  addrA: string;
  addrB: string;
}

export function buildPair(options: PairOptions): Pair {
  const { factory, factoryB, seed, family = 4, names = ['a', 'b'], ...config } = options;
  const sim = new Simulator({ seed });
  const addrA = simAddress(family, 0, 0, 1);
  const addrB = simAddress(family, 0, 0, 2);
  const a = sim.addHost(names[0], factory, [[addrA]]);
  const b = sim.addHost(names[1], factoryB ?? factory, [[addrB]]);
  const link = sim.addLink(a.ifaces[0]!, b.ifaces[0]!, { name: 'link', ...config });
  return { sim, a, b, link, addrA, addrB };
}

export interface MultiPathOptions {
  factory: CoreFactory;
  factoryServer?: CoreFactory;
  seed?: number | string;
  family?: Family;
  /** One link config per path (the client's interface i is path i). */
  paths: LinkConfig[];
  /**
   * 'per-path' (default): the server has one address per path, each path a direct link.
   * 'single': one server address behind a router; paths end at the router.
   */
  server?: 'per-path' | 'single';
  /** Router to server link in 'single' mode (default: no delay, unlimited rate). */
  serverLink?: LinkConfig;
}

export interface MultiPath {
  sim: Simulator;
  client: Host;
  server: Host;
  router: Router | null;
  /** Path i: client interface i to the server (or to the router). */
  paths: Link[];
  serverLink: Link | null;
  clientAddrs: string[];
  serverAddrs: string[];
}

export function buildMultiPath(options: MultiPathOptions): MultiPath {
  const { factory, family = 4, paths } = options;
  const sim = new Simulator({ seed: options.seed });
  const clientAddrs = paths.map((_, i) => simAddress(family, i + 1, 0, 1));
  const single = options.server === 'single';
  const serverAddrs = single
    ? [simAddress(family, 0, 0, 2)]
    : paths.map((_, i) => simAddress(family, i + 1, 0, 2));
  const client = sim.addHost(
    'client',
    factory,
    clientAddrs.map((a) => [a]),
  );
  const server = sim.addHost(
    'server',
    options.factoryServer ?? factory,
    serverAddrs.map((a) => [a]),
  );
  const links: Link[] = [];
  let router: Router | null = null;
  let serverLink: Link | null = null;
  if (single) {
    router = sim.addRouter('router');
    paths.forEach((cfg, i) => {
      links.push(sim.addLink(client.ifaces[i]!, router!, { name: `path${i + 1}`, ...cfg }));
    });
    serverLink = sim.addLink(router, server.ifaces[0]!, { name: 'server', ...options.serverLink });
  } else {
    paths.forEach((cfg, i) => {
      links.push(sim.addLink(client.ifaces[i]!, server.ifaces[i]!, { name: `path${i + 1}`, ...cfg }));
    });
  }
  return { sim, client, server, router, paths: links, serverLink, clientAddrs, serverAddrs };
}

/** Two paths (see buildMultiPath). */
export function buildTwoPath(
  options: Omit<MultiPathOptions, 'paths'> & { paths: [LinkConfig, LinkConfig] },
): MultiPath {
  return buildMultiPath(options);
}

export interface DumbbellOptions {
  factory: CoreFactory;
  seed?: number | string;
  family?: Family;
  /** Left hosts: a count (one interface each), or the number of interfaces of each. */
  left: number | number[];
  /** Right hosts (default: as many as left hosts). */
  right?: number;
  /** The link between the two routers ('ab' is left to right). */
  bottleneck: LinkConfig;
  /** Each access link (default: no delay, unlimited rate). */
  access?: LinkConfig;
}

export interface Dumbbell {
  sim: Simulator;
  /** Left host i is named `left${i}`, interface j has address 10.1.i.(j+1). */
  left: Host[];
  /** Right host i is named `right${i}`, address 10.2.i.1. */
  right: Host[];
  r1: Router;
  r2: Router;
  bottleneck: Link;
  leftAccess: Link[][];
  rightAccess: Link[];
}

export function buildDumbbell(options: DumbbellOptions): Dumbbell {
  const { factory, family = 4 } = options;
  const sim = new Simulator({ seed: options.seed });
  const spec = typeof options.left === 'number' ? new Array<number>(options.left).fill(1) : options.left;
  const nRight = options.right ?? spec.length;
  const r1 = sim.addRouter('r1');
  const r2 = sim.addRouter('r2');
  const bottleneck = sim.addLink(r1, r2, { name: 'bottleneck', ...options.bottleneck });
  const left: Host[] = [];
  const leftAccess: Link[][] = [];
  spec.forEach((nIf, i) => {
    const addrs = Array.from({ length: nIf }, (_, j) => [simAddress(family, 1, i, j + 1)]);
    const h = sim.addHost(`left${i}`, factory, addrs);
    left.push(h);
    leftAccess.push(
      h.ifaces.map((ifc, j) => sim.addLink(ifc, r1, { ...options.access, name: `left${i}.${j}` })),
    );
  });
  const right: Host[] = [];
  const rightAccess: Link[] = [];
  for (let i = 0; i < nRight; i++) {
    const h = sim.addHost(`right${i}`, factory, [[simAddress(family, 2, i, 1)]]);
    right.push(h);
    rightAccess.push(sim.addLink(h.ifaces[0]!, r2, { ...options.access, name: `right${i}` }));
  }
  return { sim, left, right, r1, r2, bottleneck, leftAccess, rightAccess };
}

export { Host };
