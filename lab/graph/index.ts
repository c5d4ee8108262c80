/** `mplab graph`: a topology (a file, or a running lab's) as DOT, Mermaid, SVG or PNG. */
import { svgToPng } from '../plot/png';
import type { LabModel } from '../topology/model';
import { type Graph, graphOf } from './model';
import { toSvg } from './svg';
import { toDot, toMermaid } from './text';

export type GraphFormat = 'dot' | 'mermaid' | 'svg' | 'png' | 'json';

export const GRAPH_FORMATS: readonly GraphFormat[] = ['dot', 'mermaid', 'svg', 'png', 'json'];

export function renderGraph(model: LabModel, format: GraphFormat): string | Buffer {
  const g = graphOf(model);
  switch (format) {
    case 'dot':
      return toDot(g);
    case 'mermaid':
      return toMermaid(g);
    case 'svg':
      return toSvg(g);
    case 'png':
      return svgToPng(toSvg(g), 2);
    case 'json':
      return `${JSON.stringify(g, null, 2)}\n`;
  }
}

/** The format an output file's extension asks for (`-o lab.svg`), or undefined. */
export function formatOfPath(path: string): GraphFormat | undefined {
  const ext = path.toLowerCase().split('.').pop();
  if (ext === 'gv' || ext === 'dot') return 'dot';
  if (ext === 'mmd' || ext === 'mermaid') return 'mermaid';
  if (ext === 'svg' || ext === 'png' || ext === 'json') return ext;
  return undefined;
}

export { type Graph, graphOf, toDot, toMermaid, toSvg };
