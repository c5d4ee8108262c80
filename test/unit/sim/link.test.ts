import { describe, expect, it } from 'vitest';
import {
  buildPair,
  type LinkConfig,
  type Packet,
  type PairOptions,
  parseMahimahi,
} from '../../../stack/sim/index';
import { HEADER_BYTES, ProbeCore } from '../../../stack/sim/testcores';

function probePair(config: Omit<PairOptions, 'factory'>) {
  const p = buildPair({ factory: () => new ProbeCore(), ...config });
  return { ...p, pa: p.a.core as ProbeCore, pb: p.b.core as ProbeCore };
}

/** Sends `n` packets of `len` data bytes back to back at the current time. */
function burst(p: ReturnType<typeof probePair>, n: number, len: number): void {
  for (let i = 0; i < n; i++) p.pa.send(p.addrA, p.addrB, len, i, p.sim.now);
  p.a.pump();
}

/** A constant-rate stream from a to b of `count` packets, one every `intervalMs`. */
function stream(p: ReturnType<typeof probePair>, count: number, intervalMs: number, len = 100): void {
  p.pa.stream({ src: p.addrA, dst: p.addrB, length: len, intervalMs, count }, p.sim.now);
  p.a.pump();
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

describe('serialization and propagation', () => {
  it('delivers back-to-back packets at rate and delay, exact to the microsecond', () => {
    const p = probePair({ rateMbps: 10, delayMs: 5 });
    burst(p, 3, 1000);
    p.sim.run();
    // wire size 1000 + 20 (IPv4 header) = 1020 bytes = 8160 bits; at 10 Mbit/s 0.816 ms each
    const t = p.pb.received.map((r) => r.t);
    expect(t).toHaveLength(3);
    [5.816, 6.632, 7.448].forEach((want, i) => {
      expect(Math.abs(t[i]! - want)).toBeLessThan(1e-6);
    });
    expect(p.pb.received.map((r) => r.seq)).toEqual([0, 1, 2]);
  });

  it('counts 40 bytes of IPv6 header, or the configured overhead', () => {
    const p6 = probePair({ rateMbps: 8, delayMs: 0, family: 6 });
    expect(p6.addrA).toBe('fd00:1:1::1');
    burst(p6, 1, 960);
    p6.sim.run();
    expect(p6.pb.received[0]!.t).toBeCloseTo(1.0, 9); // 1000 bytes at 1 byte/µs
    const po = probePair({ rateMbps: 8, delayMs: 0, overheadBytes: 40 + 14 });
    burst(po, 1, 946);
    po.sim.run();
    expect(po.pb.received[0]!.t).toBeCloseTo(1.0, 9);
    expect(po.link.ab.counters.deliveredBytes).toBe(1000);
  });

  it('an unlimited link adds only its delay and never queues', () => {
    const p = probePair({ delayMs: 12.345 });
    burst(p, 100, 1500);
    p.sim.run();
    expect(p.pb.received).toHaveLength(100);
    expect(new Set(p.pb.received.map((r) => r.t))).toEqual(new Set([12.345]));
    expect(p.link.ab.counters.queueHighWaterPackets).toBe(0);
  });

  it('each direction has its own parameters', () => {
    const p = probePair({ delayMs: 1, ba: { delayMs: 7 } });
    p.pa.send(p.addrA, p.addrB, 100, 0, 0);
    p.a.pump();
    p.pb.send(p.addrB, p.addrA, 100, 0, 0);
    p.b.pump();
    p.sim.run();
    expect(p.pb.received[0]!.t).toBe(1);
    expect(p.pa.received[0]!.t).toBe(7);
  });
});

describe('drop-tail queue', () => {
  it('drops at the configured byte limit (the packet in service counts)', () => {
    const p = probePair({ rateMbps: 10, delayMs: 1, queueBytes: 5000 });
    burst(p, 10, 1000);
    p.sim.run();
    const c = p.link.ab.counters;
    expect(c.sentPackets).toBe(10);
    expect(c.dropped.queue).toBe(6); // 4 × 1020 = 4080 ≤ 5000 < 5100
    expect(c.deliveredPackets).toBe(4);
    expect(c.queueHighWaterBytes).toBe(4080);
    expect(c.queueHighWaterPackets).toBe(4);
    expect(p.pb.received.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });

  it('drops at the configured time limit, at the current rate', () => {
    // 8 Mbit/s = 1000 bytes/ms: 5 ms of queue = 5000 bytes; at 16 Mbit/s the same 5 ms = 10000
    const p = probePair({ rateMbps: 8, delayMs: 0, queueMs: 5 });
    burst(p, 10, 980); // 1000 wire bytes each
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(5);
    p.link.set({ rateMbps: 16 });
    burst(p, 20, 980);
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(5 + 10);
    // last accepted packet waited just under 5 ms: queueing delay never exceeds the limit
    const last = p.pb.received.at(-1)!;
    expect(last.t - p.pa.sent.at(-1)!.t).toBeLessThanOrEqual(5 + 1e-9);
  });

  it('switching between byte and time limits takes the new one', () => {
    const p = probePair({ rateMbps: 8, delayMs: 0, queueBytes: 2000 });
    burst(p, 10, 980);
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(8);
    p.link.set({ queueMs: 4 }); // 4000 bytes
    burst(p, 10, 980);
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(8 + 6);
    p.link.set({ queueBytes: 3000 });
    burst(p, 10, 980);
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(8 + 6 + 7);
    expect(p.link.ab.params.queueMs).toBeUndefined();
  });

  it('queues drain: a burst below the limit is all delivered, back to back', () => {
    const p = probePair({ rateMbps: 1, delayMs: 0, queueBytes: 100_000 });
    burst(p, 50, 105); // 125 wire bytes = 1 ms each at 1 Mbit/s
    p.sim.run();
    const t = p.pb.received.map((r) => r.t);
    expect(t).toHaveLength(50);
    t.forEach((x, i) => {
      expect(Math.abs(x - (i + 1))).toBeLessThan(1e-9);
    });
    expect(p.link.ab.backlogBytes).toBe(0);
  });
});

describe('random loss', () => {
  const lossy = (seed: number) => {
    const p = probePair({ loss: 0.02, seed });
    stream(p, 50_000, 0.01);
    p.sim.run();
    return p;
  };

  it('loses packets at the configured rate, exactly repeatably for a seed', () => {
    const p1 = lossy(11);
    const p2 = lossy(11);
    const p3 = lossy(12);
    const n = 50_000;
    const lost1 = p1.link.ab.counters.dropped.random;
    // binomial sd = sqrt(n p (1-p)) ≈ 31: allow 4 sd
    expect(Math.abs(lost1 - n * 0.02)).toBeLessThan(4 * Math.sqrt(n * 0.02 * 0.98));
    expect(p1.pb.received.length).toBe(n - lost1);
    const seqs = (p: typeof p1) => p.pb.received.map((r) => r.seq).join(',');
    expect(seqs(p2)).toBe(seqs(p1));
    expect(seqs(p3)).not.toBe(seqs(p1));
  });

  it('losses on one link do not depend on other links existing', () => {
    const p = lossy(11);
    const q = probePair({ loss: 0.02, seed: 11 });
    // a second, unrelated lossy link in the same simulator, used first
    const extra = q.sim.addHost('c', () => new ProbeCore(), [['10.9.0.1']]);
    const d = q.sim.addHost('d', () => new ProbeCore(), [['10.9.0.2']]);
    q.sim.addLink(extra.ifaces[0]!, d.ifaces[0]!, { loss: 0.5 });
    const pc = extra.core as ProbeCore;
    for (let i = 0; i < 100; i++) pc.send('10.9.0.1', '10.9.0.2', 50, i, 0);
    extra.pump();
    stream(q, 50_000, 0.01);
    q.sim.run();
    expect(q.pb.received.map((r) => r.seq)).toEqual(p.pb.received.map((r) => r.seq));
  });
});

describe('Gilbert-Elliott burst loss', () => {
  it('matches the model: loss rate p/(p+r), mean burst 1/r', () => {
    const p = probePair({ gilbert: { p: 0.01, r: 0.25 }, seed: 5 });
    const n = 200_000;
    stream(p, n, 0.001);
    p.sim.run();
    const got = new Uint8Array(n);
    for (const r of p.pb.received) got[r.seq] = 1;
    let lost = 0;
    let bursts = 0;
    for (let i = 0; i < n; i++) {
      if (!got[i]) {
        lost++;
        if (i === 0 || got[i - 1]) bursts++;
      }
    }
    expect(p.link.ab.counters.dropped.burst).toBe(lost);
    const rate = lost / n;
    expect(rate).toBeGreaterThan(0.0385 * 0.85);
    expect(rate).toBeLessThan(0.0385 * 1.15);
    const meanBurst = lost / bursts;
    expect(meanBurst).toBeGreaterThan(4 * 0.9);
    expect(meanBurst).toBeLessThan(4 * 1.1);
    // and burstier than independent loss at the same rate (whose mean burst is 1/(1-rate) ≈ 1.04)
    expect(meanBurst).toBeGreaterThan(3);
  });

  it('lossGood and lossBad apply in their states', () => {
    // always bad (p = 1, r = 0) with lossBad 0.3: plain 30% loss
    const p = probePair({ gilbert: { p: 1, r: 0, lossGood: 0, lossBad: 0.3 }, seed: 2 });
    stream(p, 20_000, 0.001);
    p.sim.run();
    const rate = p.link.ab.counters.dropped.burst / 20_000;
    expect(Math.abs(rate - 0.3)).toBeLessThan(0.02);
  });
});

describe('jitter and reordering', () => {
  it('uniform jitter spreads delay over [d-j, d+j] with sd j/√3', () => {
    const p = probePair({ delayMs: 10, jitterMs: 2, seed: 8 });
    stream(p, 5000, 10); // sparse: no FIFO hold-back
    p.sim.run();
    const delays = p.pb.received.map((r, i) => r.t - p.pa.sent[i]!.t);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...delays)).toBeLessThanOrEqual(12);
    expect(Math.abs(mean(delays) - 10)).toBeLessThan(0.05);
    expect(Math.abs(sd(delays) - 2 / Math.sqrt(3))).toBeLessThan(0.05);
  });

  it('normal jitter has sd j', () => {
    const p = probePair({ delayMs: 20, jitterMs: 2, jitterDist: 'normal', seed: 8 });
    stream(p, 5000, 50);
    p.sim.run();
    const delays = p.pb.received.map((r, i) => r.t - p.pa.sent[i]!.t);
    expect(Math.abs(mean(delays) - 20)).toBeLessThan(0.1);
    expect(Math.abs(sd(delays) - 2)).toBeLessThan(0.1);
  });

  it('jitter never reorders unless reordering is asked for', () => {
    const p = probePair({ rateMbps: 100, delayMs: 10, jitterMs: 5, seed: 4 });
    stream(p, 5000, 0.05); // dense: jitter would reorder if unchecked
    p.sim.run();
    const seqs = p.pb.received.map((r) => r.seq);
    expect(seqs).toHaveLength(5000);
    expect(seqs.every((s, i) => s === i)).toBe(true);
    expect(p.link.ab.counters.reordered).toBe(0);
  });

  it('reorders the asked fraction when asked, by holding packets back', () => {
    const p = probePair({ delayMs: 10, reorder: { prob: 0.1, extraDelayMs: 3 }, seed: 4 });
    stream(p, 10_000, 1);
    p.sim.run();
    const seqs = p.pb.received.map((r) => r.seq);
    expect(seqs).toHaveLength(10_000);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs.map((_, i) => i));
    const held = p.link.ab.counters.reordered;
    expect(Math.abs(held / 10_000 - 0.1)).toBeLessThan(0.01);
    // each held packet arrives 3 ms late: overtaken by the next packets, so it arrives out of order
    let late = 0;
    let maxSeen = -1;
    for (const s of seqs) {
      if (s < maxSeen) late++;
      else maxSeen = s;
    }
    expect(late).toBeGreaterThan(held * 0.8);
    expect(late).toBeLessThanOrEqual(held);
  });
});

describe('duplication, MTU, middlebox', () => {
  it('duplicates the asked fraction as separate copies', () => {
    const p = probePair({ duplicate: 0.05, seed: 1 });
    stream(p, 20_000, 0.01);
    p.sim.run();
    const dups = p.link.ab.counters.duplicated;
    expect(Math.abs(dups / 20_000 - 0.05)).toBeLessThan(0.01);
    expect(p.pb.received.length).toBe(20_000 + dups);
    expect(p.link.ab.counters.deliveredPackets).toBe(20_000 + dups);
  });

  it('drops packets above the MTU', () => {
    const p = probePair({ mtu: 1500 });
    p.pa.send(p.addrA, p.addrB, 1480, 0, 0);
    p.pa.send(p.addrA, p.addrB, 1481, 1, 0);
    p.a.pump();
    p.sim.run();
    expect(p.pb.received.map((r) => r.seq)).toEqual([0]);
    expect(p.link.ab.counters.dropped.mtu).toBe(1);
  });

  it('a middlebox can rewrite payload or strip packets, on one direction', () => {
    const seen: string[] = [];
    const p = probePair({ delayMs: 1 });
    p.link.setMiddlebox((pkt: Packet, ctx) => {
      seen.push(`${ctx.link}/${ctx.dir}@${ctx.now}`);
      const seq = pkt.data[7]!;
      if (seq === 1) return null; // stripped
      if (seq === 2) {
        const data = pkt.data.slice();
        data[HEADER_BYTES] = 0xab; // rewrite the first payload byte
        return { ...pkt, data };
      }
      return pkt;
    }, 'ab');
    for (let i = 0; i < 3; i++) p.pa.send(p.addrA, p.addrB, 30, i, 0);
    p.a.pump();
    p.pb.send(p.addrB, p.addrA, 30, 1, 0); // other direction: untouched
    p.b.pump();
    p.b.on(() => {});
    const payloads: number[] = [];
    const orig = p.pb.input.bind(p.pb);
    p.pb.input = (pkt, now) => {
      payloads.push(pkt.data[HEADER_BYTES]!);
      orig(pkt, now);
    };
    p.sim.run();
    expect(p.pb.received.map((r) => r.seq)).toEqual([0, 2]);
    expect(payloads).toEqual([0, 0xab]);
    expect(p.pa.received).toHaveLength(1);
    expect(p.link.ab.counters.dropped.middlebox).toBe(1);
    expect(seen).toEqual(['link/ab@0', 'link/ab@0', 'link/ab@0']);
  });
});

describe('link up/down and changes over time', () => {
  it('down drops queued, in-flight and new packets until up', () => {
    const cfg: LinkConfig = { delayMs: 5 };
    const p = probePair(cfg);
    p.link.schedule([
      { at: 30, down: true },
      { at: 60, up: true },
    ]);
    stream(p, 100, 1);
    p.sim.run();
    const seqs = p.pb.received.map((r) => r.seq);
    // 0..24 arrived before 30; 25..29 were in flight; 30..59 offered while down
    expect(seqs).toEqual([
      ...Array.from({ length: 25 }, (_, i) => i),
      ...Array.from({ length: 40 }, (_, i) => 60 + i),
    ]);
    expect(p.link.ab.counters.dropped.down).toBe(35);
    expect(p.sim.log.map((e) => `${e.t} ${e.event} ${e.subject}`)).toEqual([
      '30 link-down link',
      '60 link-up link',
    ]);
    expect(p.link.up).toBe(true);
  });

  it('down with a queue: queued packets count as down drops; the transmitter restarts after up', () => {
    const p = probePair({ rateMbps: 1, delayMs: 0, queueBytes: 1e6 });
    burst(p, 10, 105); // 1 ms each
    p.sim.at(3.5, () => p.link.down());
    p.sim.at(4, () => {
      p.link.bringUp();
      burst(p, 2, 105);
    });
    p.sim.run();
    // 0,1,2 delivered at 1,2,3; 3 was in service, 4..9 queued: 7 lost; the new two at 5 and 6
    expect(p.pb.received.map((r) => [r.seq, r.t])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [0, 5],
      [1, 6],
    ]);
    expect(p.link.ab.counters.dropped.down).toBe(7);
  });

  it('a rate change mid-run changes packet spacing from the next packet on', () => {
    const p = probePair({ rateMbps: 10, delayMs: 0, queueBytes: 1e6 });
    p.link.schedule([{ at: 50, set: { rateMbps: 20 } }]);
    stream(p, 200, 0.5, 1230); // 1250 wire bytes: 1 ms at 10 Mbit/s, 0.5 ms at 20
    p.sim.run();
    const t = p.pb.received.map((r) => r.t);
    const gapsBefore = t.slice(1, 40).map((x, i) => x - t[i]!);
    const gapsAfter = t.slice(-60).map((x, i, a) => (i === 0 ? 0.5 : x - a[i - 1]!));
    for (const g of gapsBefore) expect(g).toBeCloseTo(1, 9);
    for (const g of gapsAfter) expect(g).toBeCloseTo(0.5, 9);
    expect(p.sim.log[0]).toMatchObject({
      t: 50,
      event: 'link-set',
      subject: 'link',
      detail: 'both rateMbps=20',
    });
  });

  it('a delay change applies to new packets without reordering older ones', () => {
    const p = probePair({ delayMs: 50 });
    p.link.schedule([{ at: 10, set: { delayMs: 5 }, dir: 'ab' }]);
    stream(p, 40, 1);
    p.sim.run();
    const seqs = p.pb.received.map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    // packet 9 left at 9 (arrives 59); packet 10 left at 10 with 5 ms but is held behind 9
    expect(p.pb.received[9]!.t).toBe(59);
    expect(p.pb.received[10]!.t).toBe(59);
    expect(p.pb.received[39]!.t).toBe(59);
    expect(p.link.ba.params.delayMs).toBe(50);
  });

  it('a loss change over time applies from its time on', () => {
    const p = probePair({ seed: 3 });
    p.link.schedule([
      { at: 100, set: { loss: 1 } },
      { at: 200, set: { loss: 0 } },
    ]);
    stream(p, 300, 1);
    p.sim.run();
    const seqs = p.pb.received.map((r) => r.seq);
    expect(seqs).toEqual([
      ...Array.from({ length: 100 }, (_, i) => i),
      ...Array.from({ length: 100 }, (_, i) => 200 + i),
    ]);
    expect(p.link.ab.counters.dropped.random).toBe(100);
  });

  it('rejects bad parameters', () => {
    expect(() => probePair({ loss: 1.5 })).toThrow(/probability/);
    expect(() => probePair({ delayMs: -1 })).toThrow(/delayMs/);
  });
});

describe('packet trace', () => {
  it('records each packet fate with its TCP sequence number', () => {
    const p = probePair({ rateMbps: 10, delayMs: 1, queueBytes: 2100 });
    const tr = p.sim.tracePackets();
    burst(p, 3, 1000);
    p.sim.run();
    expect(tr.records.map((r) => `${r.event}:${r.seq}`)).toEqual([
      'enq:0',
      'enq:1',
      'enq:2',
      'queue:2',
      'rx:0',
      'rx:1',
    ]);
    const csv = tr.toCSV().split('\n');
    expect(csv[0]).toBe('t,link,dir,event,size,src,dst,seq,flags');
    expect(csv[5]).toBe('1.816,link,ab,rx,1020,10.0.0.1,10.0.0.2,0,24');
  });
});

describe('packet-count queues and delivery traces', () => {
  it('drops at the configured packet limit', () => {
    const p = probePair({ rateMbps: 1, queuePackets: 3 });
    burst(p, 10, 100);
    p.sim.run();
    expect(p.link.ab.counters.dropped.queue).toBe(7);
    expect(p.link.ab.counters.queueHighWaterPackets).toBe(3);
  });

  it('spends 1500 bytes per trace opportunity (shared by small packets, spanned by large), wasting unused ones, cycling the trace', () => {
    const trace = parseMahimahi('# test\n1\n1\n3\n\n10\n');
    expect(trace).toEqual({ opportunitiesMs: [1, 1, 3, 10], periodMs: 10 });
    const p = probePair({ deliveryTrace: trace, delayMs: 0.5, queueBytes: 1e6 });
    burst(p, 5, 1000);
    p.sim.at(25, () => burst(p, 1, 1000));
    p.sim.at(200.5, () => burst(p, 2, 40));
    p.sim.run();
    // 1020-byte wire packets from opportunities of 1500 bytes at 1, 1, 3, 10 (then every 10 ms):
    // #1 at 1 (480 left), #2 spans into the second 1 (960 left), #3 spans into 3 (1440 left), #4 fits
    // at 3 (420 left), #5 spans into 10; at 25 the rest of 10 is lost: the next one is 30 (20 + 10);
    // at 200.5 two 60-byte packets share the opportunity at 201
    expect(p.pb.received.map((r) => r.t)).toEqual([1.5, 1.5, 3.5, 3.5, 10.5, 30.5, 201.5, 201.5]);
  });

  it('a trace link carries a transfer at the trace rate', () => {
    // 1 opportunity per ms = 1500 bytes/ms = 12 Mbit/s at full-size packets
    const times = Array.from({ length: 100 }, (_, i) => i + 1);
    const p = buildPair({
      factory: () => new ProbeCore(),
      deliveryTrace: { opportunitiesMs: times },
      delayMs: 5,
    });
    const pa = p.a.core as ProbeCore;
    pa.stream({ src: p.addrA, dst: p.addrB, length: 1480, intervalMs: 0.5, count: 2000 }, 0);
    p.a.pump();
    p.sim.runUntil(1000);
    const got = (p.b.core as ProbeCore).received.length;
    // one per ms from t = 1, 5 ms delay: 995 by t = 1000, queue (100 ms at 12 Mbit/s) drops the excess
    expect(got).toBe(995);
    expect(p.link.ab.counters.dropped.queue).toBeGreaterThan(0);
  });
});
