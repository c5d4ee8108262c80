/**
 * `mplab graph`: every shipped topology renders in each format; the DOT goes through a real DOT
 * parser (ts-graphviz) and keeps every node, link, address and parameter; the SVG goes through
 * resvg; the Mermaid text names every node and link.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { fromDot } from 'ts-graphviz';
import { describe, expect, it } from 'vitest';
import { graphOf, renderGraph } from '../../../lab/graph/index';
import { loadTopology } from '../../../lab/topology/index';

const root = join(import.meta.dirname, '../../..');
const files = readdirSync(join(root, 'topologies')).filter((f) => f.endsWith('.yaml'));

describe.each(files)('graph of %s', (file) => {
  it('DOT parses and holds every node, link, address and parameter', async () => {
    const model = await loadTopology(join(root, 'topologies', file));
    const dot = renderGraph(model, 'dot') as string;
    const g = fromDot(dot);
    expect(g.nodes.map((n) => n.id).sort()).toEqual(model.nodes.map((n) => n.name).sort());
    expect(g.edges.length).toBe(model.links.length);
    for (const n of model.nodes) {
      const label = String(g.getNode(n.name)?.attributes.get('label') ?? '');
      for (const i of n.interfaces)
        for (const a of i.addresses) expect(label).toContain(`${a.address}/${a.prefix}`);
    }
    const graph = graphOf(model);
    const labels = g.edges.map((e) => String(e.attributes.get('label')));
    for (const l of graph.links) expect(labels).toContain(l.params || 'unshaped');
  });

  it('SVG renders through resvg to a picture of its stated size', async () => {
    const model = await loadTopology(join(root, 'topologies', file));
    const svg = renderGraph(model, 'svg') as string;
    const w = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
    const img = new Resvg(svg).render();
    expect(img.width).toBe(Math.ceil(w));
    for (const n of model.nodes) expect(svg).toContain(n.name);
    const png = renderGraph(model, 'png') as Buffer;
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('Mermaid names every node and has one edge per link', async () => {
    const model = await loadTopology(join(root, 'topologies', file));
    const text = renderGraph(model, 'mermaid') as string;
    expect(text.startsWith('flowchart LR\n')).toBe(true);
    const edges = text.split('\n').filter((l) => /\s(---|-\.-)\|/.test(l));
    expect(edges.length).toBe(model.links.length);
    for (const n of model.nodes) expect(text).toContain(`"${n.name}`);
  });
});

describe('graph details', () => {
  it('asymmetric links show both directions; quotes in names are escaped for DOT', async () => {
    const model = await loadTopology(join(root, 'topologies/ietf-livecd.yaml'));
    const wifi = model.links.find((l) => l.id === 'wifi')!;
    wifi.ba = { ...wifi.ba, rateMbps: 5 };
    model.name = 'a "quoted" lab';
    const dot = renderGraph(model, 'dot') as string;
    expect(fromDot(dot).id).toBe('a "quoted" lab');
    const g = graphOf(model);
    expect(g.links.find((l) => l.id === 'wifi')?.params).toMatch(
      /^client→wifi-ap rate 20 Mbit\/s.*; wifi-ap→client rate 5 Mbit\/s/,
    );
  });
});
