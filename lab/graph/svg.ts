/**
 * The topology drawn as SVG (and PNG through resvg) without Graphviz: nodes in columns by hop
 * distance from the first host (so the demo reads client → access routers → core → server), each
 * link a curve between the rows of the two interfaces it joins, its parameters on a label.
 */
import type { Graph, GraphNode } from './model';

const COL = 520;
const NODE_W = 200;
const LINE = 14;
const PAD = 40;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Breaks a label at its commas into lines of at most `max` characters. */
function wrap(text: string, max: number): string[] {
  const lines: string[] = [];
  for (const part of text.split(/(?<=[,;]) /)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + part.length <= max)
      lines[lines.length - 1] = `${last} ${part}`;
    else lines.push(part);
  }
  return lines;
}

function nodeHeight(n: GraphNode): number {
  return 22 + LINE * n.interfaces.length;
}

/** Column of each node: BFS hop count from the first host of each connected part. */
export function columns(g: Graph): Map<string, number> {
  const adj = new Map<string, string[]>(g.nodes.map((n) => [n.name, []]));
  for (const l of g.links) {
    adj.get(l.a)?.push(l.b);
    adj.get(l.b)?.push(l.a);
  }
  const col = new Map<string, number>();
  const roots = [...g.nodes.filter((n) => n.kind === 'host'), ...g.nodes];
  let base = 0;
  for (const r of roots) {
    if (col.has(r.name)) continue;
    col.set(r.name, base);
    const queue = [r.name];
    let deepest = base;
    while (queue.length > 0) {
      const n = queue.shift() as string;
      for (const m of adj.get(n) ?? []) {
        if (col.has(m)) continue;
        const c = (col.get(n) ?? base) + 1;
        col.set(m, c);
        deepest = Math.max(deepest, c);
        queue.push(m);
      }
    }
    base = deepest + 1;
  }
  return col;
}

interface Placed {
  x: number;
  y: number;
  h: number;
}

export function toSvg(g: Graph): string {
  const col = columns(g);
  const byCol = new Map<number, GraphNode[]>();
  for (const n of g.nodes) {
    const c = col.get(n.name) ?? 0;
    byCol.set(c, [...(byCol.get(c) ?? []), n]);
  }
  const rowGap = 70;
  const place = new Map<string, Placed>();
  let height = 0;
  for (const nodes of byCol.values()) {
    const total = nodes.reduce((s, n) => s + nodeHeight(n), 0) + rowGap * (nodes.length - 1);
    height = Math.max(height, total);
  }
  for (const [c, nodes] of byCol) {
    const total = nodes.reduce((s, n) => s + nodeHeight(n), 0) + rowGap * (nodes.length - 1);
    let y = PAD + 30 + (height - total) / 2;
    for (const n of nodes) {
      place.set(n.name, { x: PAD + c * COL, y, h: nodeHeight(n) });
      y += nodeHeight(n) + rowGap;
    }
  }
  const width = PAD * 2 + (Math.max(0, ...col.values()) * COL + NODE_W);
  const svgH = height + PAD * 2 + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${svgH}" viewBox="0 0 ${width} ${svgH}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${width}" height="${svgH}" fill="#ffffff"/>`,
    `<text x="${PAD}" y="${PAD}" font-size="15" font-weight="bold">${esc(g.name)}</text>`,
  ];
  // A link leaves each node at the row of the interface it plugs into, so parallel links stay
  // apart and the interface's name and address label each end without extra text.
  const ifaceRow = (node: string, iface: string): number => {
    const n = g.nodes.find((x) => x.name === node);
    const i = n ? n.interfaces.findIndex((line) => line.split(' ')[0] === iface) : -1;
    return 16 + LINE * (Math.max(0, i) + 1) - 4;
  };
  for (const l of g.links) {
    const pa = place.get(l.a);
    const pb = place.get(l.b);
    if (!pa || !pb) continue;
    const leftToRight = pa.x <= pb.x;
    const sameCol = pa.x === pb.x;
    const sx = sameCol ? pa.x + NODE_W : pa.x + (leftToRight ? NODE_W : 0);
    const ex = sameCol ? pb.x + NODE_W : pb.x + (leftToRight ? 0 : NODE_W);
    const sy = pa.y + ifaceRow(l.a, l.aIface);
    const ey = pb.y + ifaceRow(l.b, l.bIface);
    const path = sameCol
      ? `M ${sx} ${sy} C ${sx + 80} ${sy} ${ex + 80} ${ey} ${ex} ${ey}`
      : `M ${sx} ${sy} C ${(sx + ex) / 2} ${sy} ${(sx + ex) / 2} ${ey} ${ex} ${ey}`;
    parts.push(
      `<path d="${path}" fill="none" stroke="#4a6fa5" stroke-width="2"${l.up ? '' : ' stroke-dasharray="6 4"'}/>`,
      `<circle cx="${sx}" cy="${sy}" r="3" fill="#4a6fa5"/>`,
      `<circle cx="${ex}" cy="${ey}" r="3" fill="#4a6fa5"/>`,
    );
    const mx = sameCol ? sx + 60 : (sx + ex) / 2;
    const my = (sy + ey) / 2;
    const lines = wrap(l.params || 'unshaped', 44);
    const w = Math.max(...lines.map((t) => t.length)) * 6.2 + 10;
    const h = lines.length * 12 + 6;
    parts.push(
      `<rect x="${mx - w / 2}" y="${my - h / 2}" width="${w}" height="${h}" rx="3" fill="#ffffff" fill-opacity="0.92"/>`,
    );
    lines.forEach((t, i) => {
      parts.push(
        `<text x="${mx}" y="${my - h / 2 + 13 + 12 * i}" font-size="10" text-anchor="middle" fill="#1f2d3d">${esc(t)}</text>`,
      );
    });
  }
  for (const n of g.nodes) {
    const p = place.get(n.name);
    if (!p) continue;
    const fill = n.kind === 'host' ? '#eef4fb' : n.kind === 'router' ? '#f4f1e8' : '#eef7ee';
    const rx = n.kind === 'router' ? 16 : 4;
    const head = n.kind === 'host' ? `${n.name} · ${n.stack}` : `${n.name} · ${n.kind}`;
    parts.push(
      `<rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${p.h}" rx="${rx}" fill="${fill}" stroke="#333" stroke-width="1.2"/>`,
      `<text x="${p.x + 8}" y="${p.y + 16}" font-size="12" font-weight="bold">${esc(head)}</text>`,
    );
    n.interfaces.forEach((line, i) => {
      parts.push(
        `<text x="${p.x + 8}" y="${p.y + 16 + LINE * (i + 1)}" font-size="10" fill="#333">${esc(line)}</text>`,
      );
    });
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
