/**
 * Throughput over time as SVG: one line per subflow, the total on top, scenario events as marked
 * vertical lines. Hand-written SVG keeps the output deterministic (same run, same bytes), small,
 * and free of a browser or a DOM.
 */
import type { RunEvent, RunResult } from '../run/result';
import { pathIndices } from '../run/result';
import { fmt, linear, niceTicks } from './scale';

export interface SvgOptions {
  width?: number;
  height?: number;
  title?: string;
}

/** Colour-blind-safe palette (Okabe–Ito), one per path index. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

export function colorOf(pathIndex: number): string {
  return PALETTE[(pathIndex - 1 + PALETTE.length) % PALETTE.length]!;
}

/** Renders a run's timeline (and events) to a standalone SVG document. */
export function timelineSvg(
  run: Pick<RunResult, 'timeline' | 'subflows' | 'events'> &
    Partial<Pick<RunResult, 'lab' | 'from' | 'to' | 'stack'>>,
  options: SvgOptions = {},
): string {
  const width = options.width ?? 900;
  const height = options.height ?? 420;
  const m = { left: 64, right: 190, top: 40, bottom: 48 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const title =
    options.title ??
    (run.from && run.to
      ? `${run.from} → ${run.to}${run.stack ? ` (${run.stack})` : ''}: throughput`
      : 'throughput');

  const tl = run.timeline;
  const tMax = Math.max(1, ...tl.map((p) => p.t), ...run.events.map((e) => e.t));
  let yMax = 0;
  for (const p of tl) {
    yMax = Math.max(yMax, p.total);
    for (const s of p.subflows) yMax = Math.max(yMax, s.mbps);
  }
  const xt = niceTicks(0, tMax);
  const yt = niceTicks(0, yMax > 0 ? yMax * 1.05 : 1, 5);
  const x = linear(0, xt[xt.length - 1]!, m.left, m.left + pw);
  const y = linear(0, yt[yt.length - 1]!, m.top + ph, m.top);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="${m.top - 16}" font-size="15" font-weight="bold">${esc(title)}</text>`);

  // grid and axes
  out.push('<g stroke="#e5e5e5" stroke-width="1">');
  for (const v of yt) out.push(`<line x1="${m.left}" y1="${n(y(v))}" x2="${m.left + pw}" y2="${n(y(v))}"/>`);
  for (const v of xt) out.push(`<line x1="${n(x(v))}" y1="${m.top}" x2="${n(x(v))}" y2="${m.top + ph}"/>`);
  out.push('</g>');
  out.push(
    `<g stroke="#333" stroke-width="1"><line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/><line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/></g>`,
  );
  out.push('<g fill="#333">');
  for (const v of yt)
    out.push(`<text x="${m.left - 8}" y="${n(y(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
  for (const v of xt)
    out.push(`<text x="${n(x(v))}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(v)}</text>`);
  out.push(
    `<text x="${m.left + pw / 2}" y="${height - 8}" text-anchor="middle">time (s)</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">goodput (Mbit/s)</text>`,
  );
  out.push('</g>');

  // events
  out.push('<g class="events">');
  run.events.forEach((e: RunEvent, i) => {
    const ex = n(x(e.t));
    out.push(
      `<line x1="${ex}" y1="${m.top}" x2="${ex}" y2="${m.top + ph}" stroke="#c0392b" stroke-width="1.2" stroke-dasharray="5 4"/>`,
      `<text x="${n(x(e.t) + 4)}" y="${m.top + 12 + (i % 4) * 13}" fill="#c0392b" font-size="11">${esc(e.what)}</text>`,
    );
  });
  out.push('</g>');

  // series: label each path by the address that tells them apart (the client's in a download)
  const bare = (a: string) => a.replace(/:\d+$/, '');
  const sameLocal = new Set(run.subflows.map((x) => bare(x.local))).size <= 1;
  const addrLabel = (x: { local: string; remote: string }) =>
    sameLocal ? `→ ${bare(x.remote)}` : bare(x.local);
  const series: { label: string; color: string; width: number; points: [number, number][] }[] = [];
  for (const pi of pathIndices(run)) {
    const pts: [number, number][] = [];
    for (const p of tl) pts.push([p.t, p.subflows.find((s) => s.pathIndex === pi)?.mbps ?? 0]);
    const sf = run.subflows.find((s) => s.pathIndex === pi);
    series.push({
      label: `path ${pi}${sf ? ` ${addrLabel(sf)}` : ''}`,
      color: colorOf(pi),
      width: 1.8,
      points: pts,
    });
  }
  series.push({ label: 'total', color: '#111111', width: 2.6, points: tl.map((p) => [p.t, p.total]) });
  out.push('<g fill="none" stroke-linejoin="round">');
  for (const s of series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([t, v], i) => `${i ? 'L' : 'M'}${n(x(t))} ${n(y(v))}`).join(' ');
    out.push(
      `<path d="${d}" stroke="${s.color}" stroke-width="${s.width}"><title>${esc(s.label)}</title></path>`,
    );
  }
  out.push('</g>');

  // legend
  out.push(`<g class="legend" transform="translate(${m.left + pw + 16} ${m.top})">`);
  series.forEach((s, i) => {
    out.push(
      `<line x1="0" y1="${i * 20 + 6}" x2="22" y2="${i * 20 + 6}" stroke="${s.color}" stroke-width="${s.width}"/>`,
      `<text x="28" y="${i * 20 + 10}">${esc(s.label)}</text>`,
    );
  });
  out.push('</g>');
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
