/**
 * The demo's plot: one run's timeline, or with `--compare kernel` both runs in one figure, one
 * panel per stack stacked on the same time axis (each panel: the application's goodput and every
 * subflow's, the WiFi events marked).
 */
import { writeFileSync } from 'node:fs';
import { svgToPng } from '../plot/png';
import { timelineSvg } from '../plot/svg';
import { checkPlotPath } from './plot';
import type { RunResult } from './result';

/** One panel per run, each as its plot renders it, stacked top to bottom in one SVG document. */
export function demoSvg(panels: { title: string; result: RunResult }[]): string {
  if (panels.length === 1) return timelineSvg(panels[0]!.result, { title: panels[0]!.title });
  const svgs = panels.map((p) => timelineSvg(p.result, { title: p.title }));
  const size = (svg: string, attr: 'width' | 'height') =>
    Number(new RegExp(`^<svg[^>]*\\s${attr}="(\\d+(?:\\.\\d+)?)"`).exec(svg)?.[1] ?? 0);
  const width = Math.max(...svgs.map((x) => size(x, 'width')));
  let y = 0;
  const body = svgs.map((x) => {
    const g = `<g transform="translate(0 ${y})">\n${x}</g>`;
    y += size(x, 'height');
    return g;
  });
  const title = panels.map((p) => p.title).join(' / ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}"><title>${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</title>\n${body.join('\n')}\n</svg>\n`;
}

/** Writes the demo's plot (.svg or .png by the file's extension); returns the bytes written. */
export function writeDemoPlot(file: string, panels: { title: string; result: RunResult }[]): number {
  const kind = checkPlotPath(file);
  const svg = demoSvg(panels);
  const data = kind === 'svg' ? Buffer.from(svg) : svgToPng(svg, 1.5);
  writeFileSync(file, data);
  return data.length;
}
