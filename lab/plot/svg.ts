/**
 * A run's timeline as SVG, in stacked panels on one time axis, each with its own labelled y axis:
 *
 * 1. application goodput: in-order bytes delivered to the receiving application per interval (the
 *    figure the run reports), with the --omit span and the drain after the sending window shaded;
 * 2. wire rate per subflow: payload bytes each subflow carried per interval, what the network saw.
 *    It is not goodput: retransmissions and reinjected data count on the wire, and data a subflow
 *    delivers ahead of a gap waits at the receiver, so the subflows' sum and the goodput differ;
 * 3. and 4. (when measured) the sender's congestion window and smoothed RTT per subflow.
 *
 * A caption under the panels says which is which. Scenario events are dashed lines through every
 * panel, labelled in the first. Legend entries name the path index and both endpoints; colours
 * never repeat within a plot (Okabe–Ito first, then evenly spaced hues). Hand-written SVG keeps the
 * output deterministic (same run, same bytes), small, and free of a browser or a DOM.
 */
import type { RunEvent, RunResult, RunSubflow, TimelinePoint } from '../run/result';
import { pathIndices } from '../run/result';
import { fmt, linear, niceTicks } from './scale';

export interface SvgOptions {
  width?: number;
  title?: string;
}

/** Colour-blind-safe palette (Okabe–Ito without its yellow, too pale on white). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#999999'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function hslHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (k: number) => {
    const x = (k + h / 30) % 12;
    const c = l - a * Math.max(-1, Math.min(x - 3, 9 - x, 1));
    return Math.round(c * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/**
 * The colour of series `i` of `count` in one plot: distinct for every i < count. Up to the
 * palette's size, the palette; beyond, evenly spaced hues alternating two lightnesses.
 */
export function seriesColor(i: number, count: number): string {
  if (count <= PALETTE.length) return PALETTE[i]!;
  return hslHex((i * 360) / count, 0.7, i % 2 === 0 ? 0.38 : 0.52);
}

/** The colour of a path index in a plot with the path indices 1..count (path 1 first). */
export function colorOf(pathIndex: number, count = PALETTE.length): string {
  return seriesColor(pathIndex - 1, Math.max(count, pathIndex));
}

/** Legend label of a path: its index and both endpoints (with ports; several subflows say how many). */
export function pathLabel(pi: number, subflows: readonly RunSubflow[]): string {
  const mine = subflows.filter((s) => s.pathIndex === pi);
  if (mine.length === 0) return `path ${pi}`;
  const first = mine[0]!;
  const k = mine.length - 1;
  const more = k > 0 ? ` (+${k} more subflow${k > 1 ? 's' : ''} on this path index)` : '';
  return `path ${pi}: ${first.local} → ${first.remote}${more}`;
}

interface Panel {
  title: string;
  unit: string;
  height: number;
  series: { label: string; color: string; width: number; points: [number, number][] }[];
}

type PlotRun = Pick<RunResult, 'timeline' | 'subflows' | 'events'> &
  Partial<
    Pick<
      RunResult,
      | 'lab'
      | 'from'
      | 'to'
      | 'stack'
      | 'reverse'
      | 'startSeconds'
      | 'sendSeconds'
      | 'drainSeconds'
      | 'omitSeconds'
      | 'goodputMbps'
    >
  >;

const CHAR = 0.6;

/** Renders a run's timeline (and events) to a standalone SVG document. */
export function timelineSvg(run: PlotRun, options: SvgOptions = {}): string {
  const tl: readonly TimelinePoint[] = run.timeline;
  const paths = pathIndices(run);
  const color = new Map(paths.map((pi, i) => [pi, seriesColor(i, paths.length)]));
  const perPath = (f: (s: TimelinePoint['subflows'][number]) => number | undefined, scale = 1) =>
    paths.map((pi) => ({
      label: pathLabel(pi, run.subflows),
      color: color.get(pi)!,
      width: 1.8,
      points: tl.flatMap((p): [number, number][] => {
        const s = p.subflows.find((x) => x.pathIndex === pi);
        const v = s ? f(s) : undefined;
        return v === undefined ? [] : [[p.t, v * scale]];
      }),
    }));
  const panels: Panel[] = [
    {
      title: 'application goodput (in-order bytes delivered to the receiving application)',
      unit: 'Mbit/s',
      height: 150,
      series: [{ label: 'goodput', color: '#111111', width: 2.4, points: tl.map((p) => [p.t, p.total]) }],
    },
    {
      title: 'wire rate per subflow (payload each subflow carried, retransmissions included)',
      unit: 'Mbit/s',
      height: 150,
      series: perPath((s) => s.mbps),
    },
  ];
  const cwnd = perPath((s) => s.cwnd, 1 / 1000).map((s) => ({ ...s, width: 1.4 }));
  if (cwnd.some((s) => s.points.length > 0))
    panels.push({ title: "congestion window per subflow (sender's)", unit: 'kB', height: 110, series: cwnd });
  const rtt = perPath((s) => s.srttMs).map((s) => ({ ...s, width: 1.4 }));
  if (rtt.some((s) => s.points.length > 0))
    panels.push({ title: "smoothed RTT per subflow (sender's)", unit: 'ms', height: 110, series: rtt });

  const legend = [
    { label: 'application goodput', color: '#111111', width: 2.4 },
    ...paths.map((pi) => ({ label: pathLabel(pi, run.subflows), color: color.get(pi)!, width: 1.8 })),
  ];
  const fs = 12;
  // the legend goes under the panels, one entry a line, so the panels keep the full width
  const legendW = Math.max(...legend.map((l) => l.label.length * 11 * CHAR + 40));
  const width = Math.max(options.width ?? 960, legendW + 90);
  const m = { left: 70, right: 24, top: 52 };
  const pw = width - m.left - m.right;
  const gap = 46;
  const title =
    options.title ??
    (run.from && run.to
      ? `${run.reverse ? `${run.to} → ${run.from}` : `${run.from} → ${run.to}`}${run.stack ? ` (${run.stack})` : ''}`
      : 'traffic run');
  const caption = captionLines(run, Math.floor((width - 32) / (11 * CHAR)));
  const panelsH = panels.reduce((a, p) => a + p.height + gap, 0);
  const legendH = legend.length * 18 + 8;
  const height = m.top + panelsH + 10 + legendH + caption.length * 15 + 14;

  const tMax = Math.max(1, ...tl.map((p) => p.t), ...run.events.map((e) => e.t));
  const xt = niceTicks(0, tMax);
  const x = linear(0, xt[xt.length - 1]!, m.left, m.left + pw);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${height}" viewBox="0 0 ${Math.ceil(width)} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${fs}">`,
  );
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${Math.ceil(width)}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="26" font-size="15" font-weight="bold">${esc(title)}</text>`);

  let top = m.top;
  panels.forEach((panel, pIdx) => {
    const ph = panel.height;
    const yMax = Math.max(0, ...panel.series.flatMap((s) => s.points.map((p) => p[1])));
    const yt = niceTicks(0, yMax > 0 ? yMax * 1.05 : 1, 4);
    const y = linear(0, yt[yt.length - 1]!, top + ph, top);
    out.push(`<g class="panel">`);
    out.push(`<text x="${m.left}" y="${top - 8}" font-weight="bold" fill="#222">${esc(panel.title)}</text>`);
    // shaded spans in the goodput panel: what the figure leaves out
    if (pIdx === 0) out.push(...spans(run, x, top, ph));
    out.push('<g stroke="#e5e5e5" stroke-width="1">');
    for (const v of yt)
      out.push(`<line x1="${m.left}" y1="${n(y(v))}" x2="${m.left + pw}" y2="${n(y(v))}"/>`);
    for (const v of xt) out.push(`<line x1="${n(x(v))}" y1="${top}" x2="${n(x(v))}" y2="${top + ph}"/>`);
    out.push('</g>');
    out.push(
      `<g stroke="#333" stroke-width="1"><line x1="${m.left}" y1="${top + ph}" x2="${m.left + pw}" y2="${top + ph}"/><line x1="${m.left}" y1="${top}" x2="${m.left}" y2="${top + ph}"/></g>`,
    );
    out.push('<g fill="#333">');
    for (const v of yt)
      out.push(`<text x="${m.left - 8}" y="${n(y(v) + 4)}" text-anchor="end">${fmt(v)}</text>`);
    for (const v of xt)
      out.push(
        `<text x="${n(x(v))}" y="${top + ph + 15}" text-anchor="middle" font-size="11">${fmt(v)}</text>`,
      );
    out.push(
      `<text transform="translate(18 ${top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(panel.unit)}</text>`,
    );
    out.push('</g>');
    // events through every panel, labelled in the first
    out.push('<g class="events">');
    run.events.forEach((e: RunEvent, i) => {
      const ex = n(x(e.t));
      out.push(
        `<line x1="${ex}" y1="${top}" x2="${ex}" y2="${top + ph}" stroke="#c0392b" stroke-width="1.2" stroke-dasharray="5 4"/>`,
      );
      if (pIdx === 0)
        out.push(
          `<text x="${n(x(e.t) + 4)}" y="${top + 12 + (i % 4) * 13}" fill="#c0392b" font-size="11">${esc(e.what)}</text>`,
        );
    });
    out.push('</g>');
    out.push('<g fill="none" stroke-linejoin="round">');
    for (const s of panel.series) {
      if (s.points.length === 0) continue;
      const d = s.points.map(([t, v], i) => `${i ? 'L' : 'M'}${n(x(t))} ${n(y(v))}`).join(' ');
      out.push(
        `<path d="${d}" stroke="${s.color}" stroke-width="${s.width}"><title>${esc(s.label)}</title></path>`,
      );
    }
    out.push('</g>');
    out.push('</g>');
    top += ph + gap;
  });
  out.push(
    `<text x="${m.left + pw / 2}" y="${top - gap + 32}" text-anchor="middle">time since the run started (s)</text>`,
  );

  // legend
  const ly = top - gap + 48;
  out.push(`<g class="legend" transform="translate(${m.left} ${ly})" font-size="11">`);
  legend.forEach((s, i) => {
    out.push(
      `<line x1="0" y1="${i * 18 + 6}" x2="22" y2="${i * 18 + 6}" stroke="${s.color}" stroke-width="${s.width}"/>`,
      `<text x="28" y="${i * 18 + 10}">${esc(s.label)}</text>`,
    );
  });
  out.push('</g>');
  const cy = ly + legendH + 10;
  caption.forEach((l, i) => {
    out.push(`<text x="16" y="${cy + i * 15}" font-size="11" fill="#444">${esc(l)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The omitted span and the drain, shaded in the goodput panel. */
function spans(run: PlotRun, x: (v: number) => number, top: number, ph: number): string[] {
  const out: string[] = [];
  const start = run.startSeconds ?? 0;
  const shade = (t0: number, t1: number, fill: string, label: string) => {
    if (!(t1 > t0)) return;
    out.push(
      `<rect x="${n(x(t0))}" y="${top}" width="${n(x(t1) - x(t0))}" height="${ph}" fill="${fill}"/>`,
      `<text x="${n(x(t0) + 3)}" y="${top + ph - 6}" font-size="10" fill="#666">${esc(label)}</text>`,
    );
  };
  if (run.omitSeconds) shade(start, start + run.omitSeconds, '#eeeeee', 'omitted');
  if (run.sendSeconds !== undefined && run.drainSeconds)
    shade(start + run.sendSeconds, start + run.sendSeconds + run.drainSeconds, '#f3efe3', 'drain');
  return out;
}

function wrap(text: string, cols: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(' ')) {
    if (cur && cur.length + 1 + w.length > cols) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

function captionLines(run: PlotRun, cols: number): string[] {
  const parts = [
    'Top: application goodput, the in-order bytes the receiving application got in each interval; the run reports its mean over the sending window' +
      (run.goodputMbps !== undefined ? ` (${run.goodputMbps.toFixed(2)} Mbit/s)` : '') +
      (run.omitSeconds ? `, after the first ${run.omitSeconds} s (omitted, grey)` : '') +
      (run.drainSeconds ? ', without the drain after the last write (shaded)' : '') +
      '.',
    'Below: wire rate per subflow, the payload each subflow carried; retransmissions and reinjected data count there, and data held at the receiver behind a gap counts before it is delivered, so the subflows need not add up to the goodput.',
  ];
  return parts.flatMap((p) => wrap(p, cols));
}
