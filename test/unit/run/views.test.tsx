/** The run, demo and campaign views render the figures they are given, within the terminal's width. */
import { renderToString } from 'ink';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../../lab/run/result';
import { CampaignView, progressBar, progressLine } from '../../../cli/ui/campaign-view';
import { RunSummary, RunView, type RunViewState } from '../../../cli/ui/run-view';

const points = Array.from({ length: 50 }, (_, i) => ({
  t: (i + 1) / 5,
  total: 20 + (i % 7),
  subflows: [
    { pathIndex: 1, mbps: i < 10 ? 0 : 18 + (i % 3) },
    { pathIndex: 2, mbps: 2 },
  ],
}));
const s: RunViewState = {
  title: 'mplab run server → client (ts)',
  points,
  live: [
    { pathIndex: 1, local: '10.0.5.2:42289', remote: '10.0.1.1:5001', bytes: 1, cwnd: 123456, srttMs: 21.3 },
    { pathIndex: 2, local: '10.0.5.2:42290', remote: '10.0.2.1:5001', bytes: 1, cwnd: 14600, srttMs: 151.2 },
  ],
  events: [{ t: 5.004, at: 5, what: 'link client:wifi down' }],
  plannedSeconds: 30,
};

describe('views', () => {
  it('live run view: a row per subflow with rate, cwnd, RTT and a sparkline; total; events with lateness', () => {
    const out = renderToString(<RunView s={s} />, { columns: 100 });
    const lines = out.split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    const row1 = lines.find((l) => l.includes('10.0.5.2:42289 → 10.0.1.1:5001'))!;
    expect(row1).toMatch(/^\s+1\s+10\.0\.5\.2:42289 → 10\.0\.1\.1:5001\s+19\.00\s+123456\s+21\.3\s+\S+/);
    const row2 = lines.find((l) => l.includes('10.0.5.2:42290'))!;
    expect(row2).toMatch(/2\.00\s+14600\s+151\.2/);
    expect(lines.find((l) => l.includes('total'))).toMatch(/total\s+2[0-6]\.00/);
    expect(out).toContain('t=10.0 s / 30 s');
    expect(out).toContain('5.004 s link client:wifi down');
    expect(out).toContain('4 ms late');
    expect(out).toMatch(/[▁▂▃▄▅▆▇█]/);
  });

  it('summary: bytes, goodput, per-subflow share, integrity', () => {
    const r: RunResult = {
      lab: 'l',
      from: 'a',
      to: 'b',
      stack: 'ts',
      sim: true,
      seed: 4,
      bytes: 2_000_000,
      seconds: 1,
      goodputMbps: 16,
      sendSeconds: 0.9,
      drainSeconds: 0.1,
      omitSeconds: 0.5,
      counters: { retrans: 7 },
      integrity: 'SHA-256 mismatch: sent ab…, received cd…',
      subflows: [{ pathIndex: 1, local: '10.0.1.1:1', remote: '10.0.1.2:2', bytes: 1_500_000 }],
      timeline: [],
      events: [],
      notes: ['a note'],
    };
    const out = renderToString(<RunSummary r={r} />, { columns: 120 });
    expect(out).toContain(
      'a → b (ts, simulated, seed 4): 16.00 Mbit/s goodput over 0.40 s of sending (first 0.5 s omitted)',
    );
    expect(out).toContain(
      '2.00 MB in 1.00 s in all, of which 0.10 s drain after the last write; 7 retransmitted',
    );
    expect(out).toContain('1.50 MB (75.0%)');
    expect(out).toContain('note: a note');
    expect(out).toContain('integrity: SHA-256 mismatch');
  });

  it('campaign progress: bar, counts, ETA', () => {
    expect(progressBar(5, 10, 10)).toBe('█████░░░░░');
    const p = { done: 3, total: 8, skipped: 1, failed: 0, etaSeconds: 75 };
    expect(progressLine(p)).toContain('3/8  ETA 1m15s  skipped 1  failed 0');
    const out = renderToString(<CampaignView name="c" p={p} sim />, { columns: 100 });
    expect(out).toContain('3/8 ETA 1m15s');
    expect(out).toContain('(simulated)');
  });
});
