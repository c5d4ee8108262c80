/**
 * What a topology drawing shows, independent of the output format: nodes with their kind, stack
 * and addresses; links with both ends' interfaces and each direction's parameters. DOT, Mermaid
 * and SVG are renderings of this one value, so they cannot disagree.
 */
import { describeParams } from '../scenario/describe';
import type { DirParams, LabModel, LinkModel, NodeModel } from '../topology/model';

export interface GraphNode {
  name: string;
  kind: NodeModel['kind'];
  /** "ts", "kernel", "none" for hosts; empty for routers and switches. */
  stack: string;
  backend: string;
  /** One line per interface: "eth1 10.0.1.1/24". */
  interfaces: string[];
}

export interface GraphLink {
  id: string;
  a: string;
  b: string;
  aIface: string;
  bIface: string;
  /** "rate 20 Mbit/s, delay 10 ms" when both directions agree; "a→b …; b→a …" when not. */
  params: string;
  up: boolean;
}

export interface Graph {
  name: string;
  nodes: GraphNode[];
  links: GraphLink[];
}

function sameParams(x: DirParams, y: DirParams): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}

function linkParams(l: LinkModel): string {
  if (sameParams(l.ab, l.ba)) return describeParams(l.ab);
  const ab = describeParams(l.ab) || 'unshaped';
  const ba = describeParams(l.ba) || 'unshaped';
  return `${l.a.node}→${l.b.node} ${ab}; ${l.b.node}→${l.a.node} ${ba}`;
}

export function graphOf(model: LabModel): Graph {
  return {
    name: model.name,
    nodes: model.nodes.map((n) => ({
      name: n.name,
      kind: n.kind,
      stack: n.kind === 'host' ? n.stack : '',
      backend: n.backend,
      interfaces: n.interfaces.map((i) =>
        [i.name, ...i.addresses.map((a) => `${a.address}/${a.prefix}`)].join(' '),
      ),
    })),
    links: model.links.map((l) => ({
      id: l.id,
      a: l.a.node,
      b: l.b.node,
      aIface: l.a.iface,
      bIface: l.b.iface,
      params: linkParams(l),
      up: l.up,
    })),
  };
}
