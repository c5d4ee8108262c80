/** The topology as Graphviz DOT and as Mermaid flowchart text. */
import type { Graph, GraphNode } from './model';

/** A DOT double-quoted string: backslash and quote escaped, newlines as \n. */
function dq(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function nodeLabel(n: GraphNode): string {
  const head =
    n.kind === 'host'
      ? `${n.name} (${n.stack}${n.backend === 'netns' ? '' : `, ${n.backend}`})`
      : `${n.name} [${n.kind}]`;
  return [head, ...n.interfaces].join('\n');
}

const DOT_SHAPE: Record<GraphNode['kind'], string> = { host: 'box', router: 'ellipse', switch: 'diamond' };

export function toDot(g: Graph): string {
  const out = [
    `graph ${dq(g.name)} {`,
    '  rankdir=LR;',
    '  node [fontname="DejaVu Sans", fontsize=10];',
    '  edge [fontname="DejaVu Sans", fontsize=9];',
  ];
  for (const n of g.nodes)
    out.push(`  ${dq(n.name)} [shape=${DOT_SHAPE[n.kind]}, label=${dq(nodeLabel(n))}];`);
  for (const l of g.links) {
    const attrs = [
      `label=${dq(l.params || 'unshaped')}`,
      `taillabel=${dq(l.aIface)}`,
      `headlabel=${dq(l.bIface)}`,
      `id=${dq(l.id)}`,
    ];
    if (!l.up) attrs.push('style=dashed');
    out.push(`  ${dq(l.a)} -- ${dq(l.b)} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Mermaid ids must be plain words; labels carry the real names. */
function mid(name: string): string {
  return `n_${name.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
}

/** Mermaid label text: quotes are the only character that cannot appear inside "…". */
function mq(s: string): string {
  return `"${s.replace(/"/g, '#quot;').replace(/\n/g, '<br/>')}"`;
}

export function toMermaid(g: Graph): string {
  const out = ['flowchart LR'];
  for (const n of g.nodes) {
    const label = mq(nodeLabel(n));
    const shape = n.kind === 'host' ? `[${label}]` : n.kind === 'router' ? `((${label}))` : `{${label}}`;
    out.push(`  ${mid(n.name)}${shape}`);
  }
  for (const l of g.links) {
    const text = mq(`${l.aIface} ↔ ${l.bIface}${l.params ? `: ${l.params}` : ''}`);
    out.push(`  ${mid(l.a)} ${l.up ? '---' : '-.-'}|${text}| ${mid(l.b)}`);
  }
  return `${out.join('\n')}\n`;
}
