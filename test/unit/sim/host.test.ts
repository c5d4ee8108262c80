import { describe, expect, it } from 'vitest';
import { buildDumbbell, buildMultiPath, Simulator } from '../../../stack/sim/index';
import { ProbeCore } from '../../../stack/sim/testcores';

/** A ProbeCore whose deadlines are set by the test; records when it is advanced. */
class TimerCore extends ProbeCore {
  readonly deadlines: number[] = [];
  readonly advanced: number[] = [];
  readonly addressLog: string[][] = [];
  override advance(now: number): void {
    this.advanced.push(now);
    for (let i = this.deadlines.length - 1; i >= 0; i--)
      if (this.deadlines[i]! <= now) this.deadlines.splice(i, 1);
    super.advance(now);
  }
  override nextDeadline(): number {
    return Math.min(super.nextDeadline(), ...this.deadlines);
  }
  override setAddresses(addresses: string[]): void {
    this.addressLog.push([...addresses]);
    super.setAddresses(addresses);
  }
}

describe('hosts', () => {
  it('arms one timer for the core deadline, and an earlier deadline supersedes a later one', () => {
    const sim = new Simulator();
    const h = sim.addHost('h', () => new TimerCore(), [['10.0.0.1']]);
    const core = h.core as TimerCore;
    core.deadlines.push(50);
    h.pump();
    sim.at(10, () => {
      core.deadlines.push(20);
      h.pump();
    });
    sim.at(30, () => {
      core.deadlines.push(40); // later than nothing pending but 50: fires at 40 then 50
      h.pump();
    });
    sim.run();
    expect(core.advanced).toEqual([20, 40, 50]);
  });

  it('a deadline in the past runs at once; a core that never moves its deadline is reported', () => {
    const sim = new Simulator();
    sim.runUntil(100);
    const h = sim.addHost('h', () => new TimerCore(), [['10.0.0.1']]);
    const core = h.core as TimerCore;
    core.deadlines.push(5);
    h.pump();
    sim.run();
    expect(core.advanced).toEqual([100]);

    const stuck = sim.addHost('stuck', () => new TimerCore(), [['10.0.0.2']]);
    (stuck.core as TimerCore).nextDeadline = () => 0;
    stuck.pump();
    expect(() => sim.run()).toThrow(/deadline stuck/);
  });

  it('sends by source address: each interface has its own link', () => {
    const mp = buildMultiPath({ factory: () => new ProbeCore(), paths: [{ delayMs: 1 }, { delayMs: 2 }] });
    const c = mp.client.core as ProbeCore;
    const s = mp.server.core as ProbeCore;
    expect(mp.clientAddrs).toEqual(['10.1.0.1', '10.2.0.1']);
    expect(mp.serverAddrs).toEqual(['10.1.0.2', '10.2.0.2']);
    c.send('10.1.0.1', '10.1.0.2', 100, 1, 0);
    c.send('10.2.0.1', '10.2.0.2', 100, 2, 0);
    c.send('10.9.9.9', '10.2.0.2', 100, 3, 0); // not ours: no route
    mp.client.pump();
    mp.sim.run();
    expect(s.received.map((r) => [r.seq, r.t, r.dst])).toEqual([
      [1, 1, '10.1.0.2'],
      [2, 2, '10.2.0.2'],
    ]);
    expect(mp.paths[0]!.ab.counters.sentPackets).toBe(1);
    expect(mp.paths[1]!.ab.counters.sentPackets).toBe(1);
    expect(mp.client.counters.noRoute).toBe(1);
    expect(mp.sim.stats.noRoute).toBe(1);
  });

  it('a packet sent to the wrong end of a direct link is counted, not delivered', () => {
    const mp = buildMultiPath({ factory: () => new ProbeCore(), paths: [{}, {}] });
    const c = mp.client.core as ProbeCore;
    c.send('10.1.0.1', '10.2.0.2', 100, 1, 0); // path 1 ends at 10.1.0.2's interface; same host owns it
    c.send('10.1.0.1', '10.7.0.2', 100, 2, 0); // nobody
    mp.client.pump();
    mp.sim.run();
    // a host accepts any of its addresses on any interface (weak host model)
    expect((mp.server.core as ProbeCore).received.map((r) => r.seq)).toEqual([1]);
    expect(mp.server.counters.notMine).toBe(1);
  });

  it('loops packets to its own address back without a link', () => {
    const sim = new Simulator();
    const h = sim.addHost('h', () => new ProbeCore(), [['10.0.0.1'], ['10.0.1.1']]);
    sim.runUntil(3);
    (h.core as ProbeCore).send('10.0.0.1', '10.0.1.1', 60, 7, sim.now);
    h.pump();
    sim.run();
    expect((h.core as ProbeCore).received.map((r) => [r.seq, r.t])).toEqual([[7, 3]]);
  });

  it('address changes reach the core and routing; the log records them', () => {
    const mp = buildMultiPath({ factory: () => new TimerCore(), paths: [{}, {}] });
    const core = mp.client.core as TimerCore;
    expect(core.addressLog).toEqual([['10.1.0.1', '10.2.0.1']]);
    mp.sim.at(10, () => mp.client.removeAddress('10.1.0.1'));
    mp.sim.at(20, () => {
      core.send('10.1.0.1', '10.1.0.2', 50, 1, mp.sim.now);
      mp.client.pump();
    });
    mp.sim.at(30, () => mp.client.addAddress('10.1.0.1', mp.client.ifaces[0]));
    mp.sim.at(40, () => {
      core.send('10.1.0.1', '10.1.0.2', 50, 2, mp.sim.now);
      mp.client.pump();
    });
    mp.sim.run();
    // always in interface order
    expect(core.addressLog).toEqual([['10.1.0.1', '10.2.0.1'], ['10.2.0.1'], ['10.1.0.1', '10.2.0.1']]);
    expect(mp.client.counters.noRoute).toBe(1);
    expect((mp.server.core as ProbeCore).received.map((r) => r.seq)).toEqual([2]);
    expect(mp.sim.log.map((e) => `${e.t} ${e.event} ${e.detail}`)).toEqual([
      '10 addresses 10.2.0.1',
      '30 addresses 10.1.0.1 10.2.0.1',
    ]);
  });

  it('names interfaces and finds them by name', () => {
    const sim = new Simulator();
    const h = sim.addHost('h', () => new ProbeCore(), [
      { name: 'wifi', addresses: ['10.0.0.1'] },
      ['10.0.1.1'],
    ]);
    const r = sim.addRouter('r');
    const up = r.addIface('uplink');
    sim.addLink(h.iface('wifi'), up, { name: 'w' });
    expect(h.iface('eth1').addresses).toEqual(['10.0.1.1']);
    expect(r.iface('uplink').link!.name).toBe('w');
    expect(() => h.iface('lte')).toThrow(/no interface/);
  });

  it('refuses duplicate names and addresses', () => {
    const sim = new Simulator();
    sim.addHost('h', () => new ProbeCore(), [['10.0.0.1']]);
    expect(() => sim.addHost('h', () => new ProbeCore(), [['10.0.0.2']])).toThrow(/duplicate/);
    expect(() => sim.addHost('g', () => new ProbeCore(), [['10.0.0.1']])).toThrow(/already/);
  });
});

describe('routers', () => {
  it('forward by destination across a shared bottleneck', () => {
    const d = buildDumbbell({
      factory: () => new ProbeCore(),
      left: [2, 1],
      bottleneck: { rateMbps: 10, delayMs: 5 },
      access: { delayMs: 1 },
    });
    expect(d.left.map((h) => h.addresses())).toEqual([['10.1.0.1', '10.1.0.2'], ['10.1.1.1']]);
    expect(d.right.map((h) => h.addresses())).toEqual([['10.2.0.1'], ['10.2.1.1']]);
    const l0 = d.left[0]!.core as ProbeCore;
    const l1 = d.left[1]!.core as ProbeCore;
    l0.send('10.1.0.1', '10.2.0.1', 980, 1, 0);
    l0.send('10.1.0.2', '10.2.0.1', 980, 2, 0);
    l1.send('10.1.1.1', '10.2.1.1', 980, 3, 0);
    l1.send('10.1.1.1', '10.3.0.1', 980, 4, 0); // unroutable at r1
    d.left[0]!.pump();
    d.left[1]!.pump();
    d.sim.run();
    // 1 ms access, then the bottleneck serializes 1000-byte packets at 0.8 ms each, 5 ms delay, 1 ms access
    expect((d.right[0]!.core as ProbeCore).received.map((r) => [r.seq, +r.t.toFixed(6)])).toEqual([
      [1, 7.8],
      [2, 8.6],
    ]);
    expect((d.right[1]!.core as ProbeCore).received.map((r) => [r.seq, +r.t.toFixed(6)])).toEqual([[3, 9.4]]);
    expect(d.bottleneck.ab.counters.deliveredPackets).toBe(3);
    expect(d.r1.counters).toEqual({ forwarded: 3, noRoute: 1 });
    const sum = d.sim.summary();
    expect(sum.routers['r1']).toEqual({ forwarded: 3, noRoute: 1 });
    expect(sum.links['bottleneck']!.ab.deliveredPackets).toBe(3);
    expect(sum.links['left0.1']!.ab.sentPackets).toBe(1);
    expect(sum.hosts['left1']).toMatchObject({ sent: 2, noRoute: 0 });
    expect(Object.keys(sum.links)).toEqual([
      'bottleneck',
      'left0.0',
      'left0.1',
      'left1.0',
      'right0',
      'right1',
    ]);
    // and back the other way
    (d.right[1]!.core as ProbeCore).send('10.2.1.1', '10.1.0.2', 100, 9, d.sim.now);
    d.right[1]!.pump();
    d.sim.run();
    expect(l0.received.map((r) => r.seq)).toEqual([9]);
    expect(d.bottleneck.ba.counters.deliveredPackets).toBe(1);
  });

  it('routes through a chain of routers, and static routes override', () => {
    const sim = new Simulator();
    const a = sim.addHost('a', () => new ProbeCore(), [['10.0.0.1']]);
    const b = sim.addHost('b', () => new ProbeCore(), [['10.0.9.1']]);
    const r = [sim.addRouter('r0'), sim.addRouter('r1'), sim.addRouter('r2')];
    sim.addLink(a.ifaces[0]!, r[0]!, { delayMs: 1 });
    const direct = sim.addLink(r[0]!, r[2]!, { delayMs: 100, name: 'slow' });
    const l1 = sim.addLink(r[0]!, r[1]!, { delayMs: 1 });
    sim.addLink(r[1]!, r[2]!, { delayMs: 1 });
    sim.addLink(r[2]!, b.ifaces[0]!, { delayMs: 1 });
    (a.core as ProbeCore).send('10.0.0.1', '10.0.9.1', 50, 1, 0);
    a.pump();
    sim.run();
    // breadth-first: fewest hops, so the slow direct link
    expect((b.core as ProbeCore).received.map((x) => x.t)).toEqual([102]);
    expect(direct.ab.counters.deliveredPackets).toBe(1);
    r[0]!.addRoute('10.0.9.1', l1.a);
    (a.core as ProbeCore).send('10.0.0.1', '10.0.9.1', 50, 2, sim.now);
    a.pump();
    const t0 = sim.now;
    sim.run();
    expect((b.core as ProbeCore).received[1]!.t - t0).toBe(4);
  });
});

describe('IPv6', () => {
  it('routes IPv6 through a dumbbell and counts 40-byte headers', () => {
    const d = buildDumbbell({
      factory: () => new ProbeCore(),
      family: 6,
      left: [2],
      bottleneck: { rateMbps: 8, delayMs: 1 },
    });
    expect(d.left[0]!.addresses()).toEqual(['fd00:2:1::1', 'fd00:2:1::2']);
    expect(d.right[0]!.addresses()).toEqual(['fd00:3:1::1']);
    (d.left[0]!.core as ProbeCore).send('fd00:2:1::2', 'fd00:3:1::1', 960, 1, 0);
    d.left[0]!.pump();
    d.sim.run();
    // 960 + 40 = 1000 bytes = 1 ms at 8 Mbit/s, plus 1 ms
    expect((d.right[0]!.core as ProbeCore).received.map((r) => [r.seq, r.t])).toEqual([[1, 2]]);
    expect(d.leftAccess[0]![1]!.ab.counters.deliveredBytes).toBe(1000);
  });
});

describe('address text', () => {
  it('registers canonical forms and finds non-canonical ones', () => {
    const sim = new Simulator();
    const a = sim.addHost('a', () => new ProbeCore(), [['FD00:0:0:0::1']]);
    const b = sim.addHost('b', () => new ProbeCore(), [['fd00::2']]);
    sim.addLink(a.ifaces[0]!, b.ifaces[0]!, { delayMs: 1 });
    expect(a.addresses()).toEqual(['fd00::1']);
    expect(a.owns('fd00:0::1')).toBe(true);
    (a.core as ProbeCore).send('fd00:0000::1', 'FD00::0002', 100, 1, 0);
    a.pump();
    sim.run();
    expect((b.core as ProbeCore).received.map((r) => r.seq)).toEqual([1]);
    expect(() => sim.addHost('c', () => new ProbeCore(), [['10.0.0.300']])).toThrow(/not an IP address/);
    expect(() => sim.addHost('d', () => new ProbeCore(), [['fd00:0::2']])).toThrow(/already/);
  });
});
