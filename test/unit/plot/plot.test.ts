import { describe, expect, it } from 'vitest';
import { svgToPng } from '../../../lab/plot/png';
import { niceTicks } from '../../../lab/plot/scale';
import { colorOf, timelineSvg } from '../../../lab/plot/svg';
import { sparkline } from '../../../lab/plot/term';
import type { RunResult } from '../../../lab/run/result';

function demoRun(): Pick<RunResult, 'timeline' | 'subflows' | 'events' | 'from' | 'to' | 'stack'> {
  const timeline: RunResult['timeline'] = [];
  for (let i = 1; i <= 30; i++) {
    const wifi = i > 10 && i <= 20 ? 0 : 18;
    timeline.push({
      t: i,
      total: wifi + 2,
      subflows: [
        { pathIndex: 1, mbps: wifi },
        { pathIndex: 2, mbps: 2 },
      ],
    });
  }
  return {
    from: 'server',
    to: 'client',
    stack: 'ts',
    timeline,
    subflows: [
      { pathIndex: 1, local: '10.0.1.2:8080', remote: '10.0.3.2:40000', bytes: 1 },
      { pathIndex: 2, local: '10.0.2.2:40001', remote: '10.0.3.2:8080', bytes: 1 },
    ],
    events: [
      { t: 10, what: 'link client:wifi down <down>' },
      { t: 20, what: 'link client:wifi up' },
    ],
  };
}

describe('plots', () => {
  it('nice ticks cover the range with 1-2-5 steps', () => {
    expect(niceTicks(0, 30)).toEqual([0, 5, 10, 15, 20, 25, 30]);
    expect(niceTicks(0, 0.9, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const t = niceTicks(0, 97, 5);
    expect(t[0]).toBe(0);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(97);
  });

  it('the SVG is well-formed: goodput and per-subflow wire rate in separate labelled panels, events marked in each (escaped)', () => {
    const svg = timelineSvg(demoRun());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    const paths = svg.match(/<path d="M/g) ?? [];
    // goodput, then one wire-rate line per subflow (no cwnd/RTT in this run: no such panels)
    expect(paths.length).toBe(3);
    const panels = [...svg.matchAll(/<g class="panel">\n<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(panels).toEqual([
      'application goodput (in-order bytes delivered to the receiving application)',
      'wire rate per subflow (payload each subflow carried, retransmissions included)',
    ]);
    expect(svg).toContain('Top: application goodput');
    expect(svg).toContain('Below: wire rate per subflow');
    expect(svg).toContain(`stroke="${colorOf(1)}"`);
    expect(svg).toContain(`stroke="${colorOf(2)}"`);
    expect((svg.match(/stroke-dasharray/g) ?? []).length).toBe(2 * panels.length);
    expect(svg).toContain('link client:wifi down &lt;down&gt;');
    expect(svg).not.toContain('<down>');
    // balanced tags: every opened <g> closes
    expect((svg.match(/<g[ >]/g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
  });

  it('the WiFi line sits on the axis while WiFi is down', () => {
    const svg = timelineSvg(demoRun(), { width: 900 });
    const wifi = svg.split('\n').find((l) => l.includes(`stroke="${colorOf(1)}" stroke-width="1.8"`))!;
    const coords = [...wifi.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => Number(m[2]));
    const axisY = Math.max(...coords);
    expect(coords.slice(10, 20).every((c) => c === axisY)).toBe(true);
    expect(coords.slice(0, 10).every((c) => c < axisY)).toBe(true);
  });

  it('is deterministic', () => {
    expect(timelineSvg(demoRun())).toBe(timelineSvg(demoRun()));
  });

  it('renders a real PNG through resvg', () => {
    const png = svgToPng(timelineSvg(demoRun()));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const svg = timelineSvg(demoRun());
    const [, w, h] = /width="(\d+)" height="(\d+)"/.exec(svg)!;
    expect(png.readUInt32BE(16)).toBe(Number(w));
    expect(png.readUInt32BE(20)).toBe(Number(h));
  });

  it('legend entries are unique (path index and both endpoints) and colours never repeat, even with many paths', () => {
    const run = demoRun();
    const k = 12;
    run.subflows = Array.from({ length: k }, (_, i) => ({
      pathIndex: i + 1,
      // the same local address for every path, as in ndiffports: the ports and remotes tell them apart
      local: `10.0.1.1:${40000 + i}`,
      remote: `10.0.${(i % 3) + 1}.2:5001`,
      bytes: 1,
    }));
    run.timeline = run.timeline.map((p) => ({
      ...p,
      subflows: run.subflows.map((s) => ({ pathIndex: s.pathIndex, mbps: 1, cwnd: 20_000, srttMs: 10 })),
    }));
    const svg = timelineSvg(run);
    const legend = /<g class="legend"[^>]*>([\s\S]*?)<\/g>/.exec(svg)![1]!;
    const labels = [...legend.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels).toHaveLength(k + 1);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels[1]).toBe('path 1: 10.0.1.1:40000 → 10.0.1.2:5001');
    const colours = [...legend.matchAll(/stroke="(#[0-9a-f]{6})"/gi)].map((m) => m[1]!.toLowerCase());
    expect(new Set(colours).size).toBe(k + 1);
    // cwnd and RTT get their own panels
    expect(svg).toContain("congestion window per subflow (sender's)");
    expect(svg).toContain("smoothed RTT per subflow (sender's)");
  });

  it('shades the omitted span and the drain in the goodput panel', () => {
    const run = {
      ...demoRun(),
      startSeconds: 0.5,
      omitSeconds: 2,
      sendSeconds: 25,
      drainSeconds: 3,
      goodputMbps: 12,
    };
    const svg = timelineSvg(run);
    expect(svg).toMatch(/<rect [^>]*fill="#eeeeee"\/>\n<text[^>]*>omitted<\/text>/);
    expect(svg).toMatch(/<rect [^>]*fill="#f3efe3"\/>\n<text[^>]*>drain<\/text>/);
    expect(svg).toContain('(12.00 Mbit/s), after the first 2 s');
  });

  it('sparklines scale to a shared maximum', () => {
    expect(sparkline([0, 4, 8], 3)).toBe(' ▄█');
    expect(sparkline([0, 4, 8], 5, 16)).toBe('   ▂▄');
    expect(sparkline([], 3)).toBe('   ');
  });
});
