/**
 * The campaign's overview chart: per cell, the mean goodput as a bar, its 95% confidence interval
 * as a whisker, every run as a dot, high-variance cells marked. The cells' parameters sit in a
 * table under the bars (one row per axis, named on the left), so labels never need rotating and
 * always fit: the columns widen to their longest value.
 */
import { fmt, linear, niceTicks } from '../plot/scale';
import type { CampaignSpec, CellSummary } from './runner';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Approximate advance width of a string at `size` px in DejaVu Sans (wide enough, never clipped). */
export function textWidth(s: string, size: number): number {
  return [...s].length * size * 0.62;
}

/** The axis name as a row header: its last two dotted parts ("net.mptcp.mptcp_scheduler" → "mptcp.mptcp_scheduler"). */
function shortAxis(name: string): string {
  const parts = name.split('.');
  return parts.length <= 2 ? name : parts.slice(-2).join('.');
}

const BAR = '#0072B2';
const FLAG = '#D55E00';

export function cellChartSvg(spec: CampaignSpec, cellsOut: readonly CellSummary[]): string {
  const axes = spec.axes.map((a) => a.name);
  const fs = 11;
  const rowH = 15;
  const cellValue = (c: CellSummary, a: string) => String(c.assignments[a] ?? '');
  const col = Math.max(
    56,
    ...cellsOut.flatMap((c) => axes.map((a) => textWidth(cellValue(c, a), fs) + 12)),
    textWidth('n=00', fs) + 12,
  );
  const headerW = Math.max(
    60,
    ...axes.map((a) => textWidth(shortAxis(a), fs) + 14),
    textWidth('runs', fs) + 14,
  );
  const m = { left: headerW + 30, right: 24, top: 56 };
  const plotH = 300;
  const tableH = (axes.length + 1) * rowH + 8;
  const captionLines = [
    "Bars: mean goodput over each run's sending window (docs/run.md). Whiskers: 95% confidence interval",
    "of the mean (Student's t). Dots: the individual runs. ⚠: runs vary more than the threshold (cv).",
  ];
  const title = `${spec.name}: goodput per cell (${spec.repetitions} repetitions)`;
  const width = Math.max(
    480,
    m.left + m.right + cellsOut.length * col,
    ...captionLines.map((l) => textWidth(l, 10) + 32),
    textWidth(title, 15) + m.left,
  );
  const height = m.top + plotH + 12 + tableH + 18 + captionLines.length * 14 + 10;
  const top = Math.max(
    1,
    ...cellsOut.map((c) => (c.goodputMbps.mean || 0) + (c.goodputMbps.ci95 || 0)),
    ...cellsOut.flatMap((c) => c.values),
  );
  const yt = niceTicks(0, top * 1.08, 5);
  const y = linear(0, yt[yt.length - 1]!, m.top + plotH, m.top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(width)}" height="${height}" viewBox="0 0 ${Math.ceil(width)} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${fs}">`,
    `<rect width="${Math.ceil(width)}" height="${height}" fill="#fff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const v of yt) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + cellsOut.length * col}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(${m.left - 40} ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">goodput (Mbit/s)</text>`,
  );
  const barW = Math.min(46, col - 14);
  cellsOut.forEach((c, i) => {
    const cx = m.left + i * col + col / 2;
    const x0 = cx - barW / 2;
    const mean = Number.isFinite(c.goodputMbps.mean) ? c.goodputMbps.mean : 0;
    const fill = c.highVariance ? FLAG : BAR;
    out.push(
      `<rect x="${x0.toFixed(1)}" y="${y(mean).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(0) - y(mean)).toFixed(1)}" fill="${fill}" fill-opacity="0.55"><title>${esc(c.cell)}: mean ${mean.toFixed(2)} Mbit/s</title></rect>`,
    );
    if (Number.isFinite(c.goodputMbps.ci95)) {
      const lo = y(Math.max(0, mean - c.goodputMbps.ci95)).toFixed(1);
      const hi = y(mean + c.goodputMbps.ci95).toFixed(1);
      out.push(
        `<path d="M${cx} ${lo} L${cx} ${hi} M${cx - 7} ${lo} L${cx + 7} ${lo} M${cx - 7} ${hi} L${cx + 7} ${hi}" stroke="#111" stroke-width="1.4" fill="none"/>`,
      );
    }
    c.values.forEach((v, k) => {
      // spread the dots a little so equal values stay visible
      const dx = c.values.length > 1 ? ((k / (c.values.length - 1)) * 2 - 1) * (barW / 3) : 0;
      out.push(`<circle cx="${(cx + dx).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.6" fill="#111"/>`);
    });
    if (c.highVariance)
      out.push(
        `<text x="${cx}" y="${(y(Math.max(mean + (c.goodputMbps.ci95 || 0), ...c.values)) - 8).toFixed(1)}" text-anchor="middle" fill="${FLAG}">⚠ cv ${c.cv.toFixed(2)}</text>`,
      );
  });
  out.push(
    `<line x1="${m.left}" x2="${m.left + cellsOut.length * col}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`,
  );
  // the parameter table
  const t0 = m.top + plotH + 12;
  axes.forEach((a, r) => {
    const ty = t0 + r * rowH + 11;
    out.push(
      `<text x="${m.left - 8}" y="${ty}" text-anchor="end" font-weight="bold">${esc(shortAxis(a))}</text>`,
    );
    cellsOut.forEach((c, i) => {
      out.push(
        `<text x="${m.left + i * col + col / 2}" y="${ty}" text-anchor="middle">${esc(cellValue(c, a))}</text>`,
      );
    });
  });
  const ny = t0 + axes.length * rowH + 11;
  out.push(`<text x="${m.left - 8}" y="${ny}" text-anchor="end" font-weight="bold">runs</text>`);
  cellsOut.forEach((c, i) => {
    const failed = c.failed > 0 ? ` (${c.failed} failed)` : '';
    out.push(
      `<text x="${m.left + i * col + col / 2}" y="${ny}" text-anchor="middle" fill="#555">n=${c.goodputMbps.n}${esc(failed)}</text>`,
    );
  });
  for (let i = 0; i <= cellsOut.length; i++)
    out.push(
      `<line x1="${m.left + i * col}" x2="${m.left + i * col}" y1="${t0}" y2="${t0 + tableH - 4}" stroke="#e5e5e5"/>`,
    );
  captionLines.forEach((l, i) => {
    out.push(`<text x="16" y="${t0 + tableH + 18 + i * 14}" font-size="10" fill="#444">${esc(l)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
