import { describe, expect, it } from 'vitest';
import type { ConnStats } from '../../../stack/core/contract';
import { buildPair, ConnTrace, Simulator, startBulk, TRACE_COLUMNS } from '../../../stack/sim/index';
import { ProbeCore, WindowCore } from '../../../stack/sim/testcores';

/** A core that reports scripted stats: one MPTCP connection with two subflows. */
class StatsCore extends ProbeCore {
  tick = 0;
  override connStats(): ConnStats[] {
    this.tick++;
    const sf = (pathIndex: number, cwnd: number) => ({
      pathIndex,
      local: { address: `10.${pathIndex}.0.1`, port: 40000 + pathIndex },
      remote: { address: '10.0.0.2', port: 80 },
      state: 'ESTABLISHED',
      mss: 1400,
      cwnd,
      ssthresh: pathIndex === 1 ? Number.POSITIVE_INFINITY : 20_000,
      srttMs: 10 * pathIndex,
      rttvarMs: 1,
      bytesInFlight: cwnd / 2,
      bytesSent: this.tick * 1000,
      bytesAcked: this.tick * 900,
      bytesReceived: 0,
      retransmits: 0,
    });
    return [
      {
        conn: 7,
        mode: 'mptcp',
        state: 'ESTABLISHED',
        bytesDelivered: this.tick * 1800,
        bytesReceived: 0,
        subflows: [sf(1, 10_000 + this.tick), sf(2, 5000)],
      },
      { conn: 8, mode: 'tcp', state: 'LISTEN', bytesDelivered: 0, bytesReceived: 0, subflows: [] },
    ];
  }
}

describe('connection trace', () => {
  it('samples every N ms: one row per subflow, path 0 when there is none', () => {
    const sim = new Simulator();
    sim.addHost('h', () => new StatsCore(), [['10.1.0.1']]);
    const tr = new ConnTrace(sim, { everyMs: 25 });
    sim.runUntil(100);
    expect(tr.rows).toHaveLength(5 * 3); // t = 0, 25, 50, 75, 100
    const cw = tr.series('h', 7, 'cwnd', 1);
    expect(cw.t).toEqual([0, 25, 50, 75, 100]);
    expect(cw.v).toEqual([10_001, 10_002, 10_003, 10_004, 10_005]);
    expect(tr.series('h', 7, 'srttMs', 2).v).toEqual([20, 20, 20, 20, 20]);
    expect(tr.series('h', 7, 'delivered', 2).v).toEqual([1800, 3600, 5400, 7200, 9000]);
    // the subflow-less connection: a path-0 row with connection columns only
    const o = tr.objects().find((r) => r.conn === 8)!;
    expect(o).toMatchObject({ path: 0, mode: 'tcp', state: 'LISTEN', cwnd: null, delivered: 0 });
    expect(tr.series('h', 8, 'cwnd').v).toEqual([]);
    // the trace never keeps the simulation alive
    expect(sim.run()).toBe(true);
  });

  it('samples hosts added after the trace started', () => {
    const sim = new Simulator();
    const tr = new ConnTrace(sim, { everyMs: 10 });
    sim.runUntil(15);
    sim.addHost('late', () => new StatsCore(), [['10.1.0.1']]);
    sim.runUntil(30);
    expect(tr.series('late', 7, 'cwnd', 1).t).toEqual([20, 30]);
  });

  it('serializes to JSON and CSV, keeping Infinity', () => {
    const sim = new Simulator();
    sim.addHost('h', () => new StatsCore(), [['10.1.0.1']]);
    const tr = new ConnTrace(sim, { everyMs: 10 });
    sim.runUntil(10);
    const json = JSON.parse(JSON.stringify(tr)) as { columns: string[]; rows: unknown[][] };
    expect(json.columns).toEqual([...TRACE_COLUMNS]);
    expect(json.rows[0]![TRACE_COLUMNS.indexOf('ssthresh')]).toBe('Infinity');
    expect(json.rows[1]![TRACE_COLUMNS.indexOf('ssthresh')]).toBe(20_000);
    const csv = tr.toCSV().trimEnd().split('\n');
    expect(csv[0]).toBe(TRACE_COLUMNS.join(','));
    expect(csv).toHaveLength(1 + 6);
    expect(csv[1]).toBe(
      '0,h,7,mptcp,ESTABLISHED,1,10.1.0.1:40001,10.0.0.2:80,ESTABLISHED,1400,10001,Infinity,10,1,5000.5,1000,900,0,0,1800,0',
    );
    expect(csv[3]).toBe('0,h,8,tcp,LISTEN,0,,,,,,,,,,,,,,0,0');
  });

  it('follows a real transfer: srtt grows as the queue fills, delivered grows to the size', () => {
    const p = buildPair({
      factory: () => new WindowCore({ windowBytes: 100_000 }),
      rateMbps: 10,
      rttMs: 20,
      queueBytes: 200_000,
    });
    const tr = new ConnTrace(p.sim, { everyMs: 50, hosts: [p.a] });
    const x = startBulk(p.sim, { client: p.a, server: p.b, bytes: 1_000_000 });
    p.sim.runWhile(() => !x.done, 10_000);
    expect(x.ok).toBe(true);
    const srtt = tr.series('a', x.clientConn, 'srttMs', 1).v;
    // 100 kB window over a 25 kB BDP: ~75 kB standing queue = 60 ms extra at 10 Mbit/s
    expect(srtt.at(-1)!).toBeGreaterThan(60);
    expect(srtt.at(-1)!).toBeLessThan(110);
    const delivered = tr.series('a', x.clientConn, 'delivered').v;
    expect(delivered.every((v, i) => i === 0 || v >= delivered[i - 1]!)).toBe(true);
    expect(delivered.at(-1)!).toBeGreaterThan(800_000);
    expect(tr.rows.every((r) => r[1] === 'a')).toBe(true);
  });
});
