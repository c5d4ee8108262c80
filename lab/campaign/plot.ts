/** The campaign's overview chart: mean goodput per cell with its 95% confidence interval. */
import { colorOf } from '../plot/svg';
import { fmt, linear, niceTicks } from '../plot/scale';
import type { CampaignSpec, CellSummary } from './runner';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function cellChartSvg(spec: CampaignSpec, cellsOut: readonly CellSummary[]): string {
  const barW = 46;
  const gap = 22;
  const m = { left: 64, right: 24, top: 44, bottom: 150 };
  const width = Math.max(420, m.left + m.right + cellsOut.length * (barW + gap));
  const height = 460;
  const ph = height - m.top - m.bottom;
  const top = Math.max(1, ...cellsOut.map((c) => (c.goodputMbps.mean || 0) + (c.goodputMbps.ci95 || 0)));
  const yt = niceTicks(0, top * 1.05, 5);
  const y = linear(0, yt[yt.length - 1]!, m.top + ph, m.top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="24" font-size="15" font-weight="bold">${esc(spec.name)}: mean goodput per cell (95% CI)</text>`,
  ];
  for (const v of yt) {
    out.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  cellsOut.forEach((c, i) => {
    const x0 = m.left + gap / 2 + i * (barW + gap);
    const mean = Number.isFinite(c.goodputMbps.mean) ? c.goodputMbps.mean : 0;
    out.push(
      `<rect x="${x0}" y="${y(mean).toFixed(1)}" width="${barW}" height="${(y(0) - y(mean)).toFixed(1)}" fill="${colorOf(i + 1)}"><title>${esc(c.cell)}</title></rect>`,
    );
    if (Number.isFinite(c.goodputMbps.ci95)) {
      const cx = x0 + barW / 2;
      const lo = y(Math.max(0, mean - c.goodputMbps.ci95)).toFixed(1);
      const hi = y(mean + c.goodputMbps.ci95).toFixed(1);
      out.push(
        `<path d="M${cx} ${lo} L${cx} ${hi} M${cx - 6} ${lo} L${cx + 6} ${lo} M${cx - 6} ${hi} L${cx + 6} ${hi}" stroke="#111" fill="none"/>`,
      );
    }
    const label = Object.values(c.assignments).map(String).join(' / ');
    out.push(
      `<text transform="translate(${x0 + barW / 2} ${m.top + ph + 10}) rotate(50)" font-size="10">${esc(label)}</text>`,
    );
  });
  out.push(
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">goodput (Mbit/s)</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
