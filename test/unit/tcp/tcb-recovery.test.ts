import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../stack/tcp/tcb';
import { ACK, RST, SYN, type TcpSegment } from '../../../stack/wire/types';
import { Pair, pattern, received, sha256 } from './pair';

function seg(p: Partial<TcpSegment>): TcpSegment {
  return {
    srcPort: 2000,
    dstPort: 1000,
    seq: 0,
    ack: 0,
    flags: ACK,
    window: 1000,
    checksum: 0,
    urgent: 0,
    options: [],
    payload: new Uint8Array(0),
    ...p,
  };
}

function established(o: ConstructorParameters<typeof Pair>[0] = {}): Pair {
  const p = new Pair(o);
  p.connect();
  p.run(1000);
  expect(p.a.tcb.state).toBe(TcpState.ESTABLISHED);
  p.log.length = 0;
  return p;
}

describe('RST and challenge ACKs (RFC 5961)', () => {
  it('an in-window RST with the wrong sequence number only draws a challenge ACK', () => {
    const p = established();
    const a = p.a.tcb;
    a.input(seg({ seq: (a.rcvNxt + 100) >>> 0, flags: RST }), p.now);
    expect(a.state).toBe(TcpState.ESTABLISHED);
    const out = a.takeOutput();
    expect(out).toHaveLength(1);
    expect(out[0]!.flags).toBe(ACK);
    expect(out[0]!.ack).toBe(a.rcvNxt);
    expect(a.challengeAcks).toBe(1);
    // Out of window: silently dropped.
    a.input(seg({ seq: (a.rcvNxt + 5_000_000) >>> 0, flags: RST }), p.now);
    expect(a.takeOutput()).toHaveLength(0);
    // Exact: the connection is reset.
    a.input(seg({ seq: a.rcvNxt, flags: RST }), p.now);
    expect(a.state).toBe(TcpState.CLOSED);
    expect(p.a.events.at(-1)).toBe('closed:ECONNRESET');
  });

  it('a SYN on an established connection draws a rate-limited challenge ACK', () => {
    const p = established({ a: { challengeAckLimit: 3 } });
    const a = p.a.tcb;
    for (let i = 0; i < 10; i++) a.input(seg({ seq: 12345, flags: SYN }), p.now);
    expect(a.state).toBe(TcpState.ESTABLISHED);
    expect(a.takeOutput().filter((s) => s.flags === ACK)).toHaveLength(3);
    expect(a.challengeAcks).toBe(3);
    // A new second refills the budget.
    a.input(seg({ seq: 12345, flags: SYN }), p.now + 1000);
    expect(a.challengeAcks).toBe(4);
  });

  it('abort sends RST with extra options and the peer closes', () => {
    const p = established();
    p.a.tcb.abort(p.now, [{ kind: 'unknown', type: 253, data: new Uint8Array([1, 2]) }]);
    p.run(p.now + 50);
    const rst = p.segs('ab', (s) => (s.flags & RST) !== 0)[0]!.seg;
    expect(rst.options).toEqual([{ kind: 'unknown', type: 253, data: new Uint8Array([1, 2]) }]);
    expect(p.b.tcb.state).toBe(TcpState.CLOSED);
    expect(p.b.events.at(-1)).toBe('closed:ECONNRESET');
  });
});

describe('RFC 7323', () => {
  it('window scaling lets one flow use a window far above 64 KiB', () => {
    const p = established({ delayMs: 50, rate: 100e6, rcvBuf: 4 << 20, sndBuf: 4 << 20 });
    expect(p.b.tcb.rcvWscale).toBe(7);
    const data = pattern(4_000_000);
    const t = p.transfer(p.a, p.b, data, 10_000);
    expect(t).toBeGreaterThan(0);
    // Max flight observed far above 65535: the window scale was honoured.
    expect(p.a.tcb.maxSndWnd).toBeGreaterThan(1_000_000);
    const adv = p.segs('ba').map((s) => s.seg.window);
    expect(Math.max(...adv)).toBeLessThanOrEqual(65535);
    // 4 MB over 100 Mbit/s and 100 ms RTT: about 0.32 s serialisation plus slow start.
    expect(t).toBeLessThan(1500);
    expect(sha256(p.b.received)).toBe(sha256(data));
  });

  it('timestamps: echoed values give RTT samples and PAWS drops old segments', () => {
    const p = established({ delayMs: 30 });
    const a = p.a.tcb;
    expect(a.srtt).toBeGreaterThan(55);
    const data = pattern(100_000);
    p.transfer(p.a, p.b, data, 3000);
    // With 60 ms RTT (plus delayed ACKs at most 40 ms) srtt stays in range.
    expect(a.srtt).toBeGreaterThanOrEqual(60);
    expect(a.srtt).toBeLessThan(110);
    // A segment carrying an older tsval than TS.Recent is dropped (PAWS) and answered with an ACK.
    const b = p.b.tcb;
    const before = received(p.b);
    b.input(
      seg({
        srcPort: 1000,
        dstPort: 2000,
        seq: b.rcvNxt,
        ack: b.sndNxt,
        window: 1000,
        options: [{ kind: 'timestamps', tsval: (b.tsRecent - 1000) >>> 0, tsecr: 0 }],
        payload: new Uint8Array(100),
      }),
      p.now,
    );
    expect(b.pawsDrops).toBe(1);
    expect(received(p.b)).toBe(before);
    expect(b.takeOutput().map((s) => s.flags)).toEqual([ACK]);
  });
});

describe('loss recovery', () => {
  it('SACK recovery repairs a dropped segment with one fast retransmit, no timeout', () => {
    const p = established({ delayMs: 10, rate: 50e6 });
    const a = p.a.tcb;
    let dropSeq = -1;
    p.drop = (s) => {
      if (s.dir !== 'ab' || s.seg.payload.length === 0) return false;
      if (dropSeq < 0 && s.seg.seq - a.iss > 30_000) {
        dropSeq = s.seg.seq;
        return true;
      }
      return false;
    };
    const data = pattern(300_000);
    expect(p.transfer(p.a, p.b, data, 5000)).toBeGreaterThan(0);
    expect(sha256(p.b.received)).toBe(sha256(data));
    expect(a.fastRetransmits).toBe(1);
    expect(a.rtoCount).toBe(0);
    expect(a.retransmits).toBe(1);
    // The receiver sent SACK blocks naming the data above the hole.
    const sacks = p.segs('ba', (s) => s.options.some((o) => o.kind === 'sack'));
    expect(sacks.length).toBeGreaterThanOrEqual(3);
    const first = sacks[0]!.seg.options.find((o) => o.kind === 'sack');
    expect(first?.kind === 'sack' && first.blocks[0]!.left).toBe((dropSeq + a.mss) >>> 0);
    // The retransmission is the dropped segment.
    const rex = p.segs('ab', (s) => s.seq === dropSeq && s.payload.length > 0);
    expect(rex).toHaveLength(2);
    // cwnd reduced once (CUBIC: β = 0.7).
    expect(a.ssthresh).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('SACK recovery handles several holes in one window', () => {
    const p = established({ delayMs: 10, rate: 50e6 });
    const a = p.a.tcb;
    const dropped = new Set<number>();
    p.drop = (s) => {
      if (s.dir !== 'ab' || s.seg.payload.length === 0) return false;
      const off = (s.seg.seq - a.iss) >>> 0;
      for (const k of [40, 43, 47, 60]) {
        const at = 1 + k * a.mss;
        if (off === at && !dropped.has(at)) {
          dropped.add(at);
          return true;
        }
      }
      return false;
    };
    const data = pattern(400_000);
    expect(p.transfer(p.a, p.b, data, 5000)).toBeGreaterThan(0);
    expect(sha256(p.b.received)).toBe(sha256(data));
    expect(dropped.size).toBe(4);
    expect(a.rtoCount).toBe(0);
    expect(a.retransmits).toBe(4);
  });

  it('NewReno (no SACK) repairs two holes with partial ACKs', () => {
    const p = established({ delayMs: 10, rate: 50e6, a: { sack: false }, b: { sack: false } });
    const a = p.a.tcb;
    expect(a.sackOn).toBe(false);
    const dropped = new Set<number>();
    p.drop = (s) => {
      if (s.dir !== 'ab' || s.seg.payload.length === 0) return false;
      const off = (s.seg.seq - a.iss) >>> 0;
      for (const k of [30, 34]) {
        const at = 1 + k * a.mss;
        if (off === at && !dropped.has(at)) {
          dropped.add(at);
          return true;
        }
      }
      return false;
    };
    const data = pattern(300_000);
    expect(p.transfer(p.a, p.b, data, 5000)).toBeGreaterThan(0);
    expect(sha256(p.b.received)).toBe(sha256(data));
    expect(a.fastRetransmits).toBe(1);
    expect(a.rtoCount).toBe(0);
    expect(a.retransmits).toBe(2);
  });

  it('RTO backs off exponentially during an outage and Karn keeps samples out', () => {
    const p = established({ delayMs: 10, a: { timestamps: false, rtoMin: 200 }, b: { timestamps: false } });
    const a = p.a.tcb;
    const data = pattern(50_000);
    p.a.snd.write(a, data.subarray(0, 20_000));
    a.output(p.now);
    p.run(p.now + 200);
    expect(received(p.b)).toBe(20_000);
    const srttBefore = a.srtt;
    // Outage: every segment a→b lost for 5 s.
    const tDown = p.now;
    p.drop = (s) => s.dir === 'ab' && s.t < tDown + 5000;
    p.a.snd.write(a, data.subarray(20_000));
    a.output(p.now);
    p.run(tDown + 5000);
    const rtos = p.segs('ab', (s) => s.payload.length > 0).filter((s) => s.t > tDown);
    const times = rtos.map((s) => s.t - tDown);
    expect(a.rtoCount).toBeGreaterThanOrEqual(4);
    // Each retransmission waits about twice the previous interval.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]! / gaps[i - 1]!).toBeCloseTo(2, 1);
    expect(a.rto).toBeGreaterThanOrEqual(2 * gaps.at(-1)! - 1);
    p.drop = undefined;
    // Karn: the first ACK after the outage acknowledges a retransmitted segment only: it gives
    // no RTT sample, so srtt is unchanged and the RTO stays backed off.
    const una0 = a.sndUna;
    const backedOff = a.rto;
    while (a.sndUna === una0 && p.now < tDown + 60_000) p.run(p.now + 1);
    expect(a.sndUna).not.toBe(una0);
    expect(a.srtt).toBe(srttBefore);
    expect(a.backoff).toBeGreaterThan(0);
    expect(a.rto).toBeGreaterThanOrEqual(backedOff);
    p.run(p.now + 20_000);
    expect(sha256(p.b.received)).toBe(sha256(data));
    // Fresh segments are timed again and bring the RTO back down.
    p.a.snd.write(a, pattern(5000, 3));
    a.output(p.now);
    p.run(p.now + 1000);
    expect(a.srtt).toBeLessThan(srttBefore + 60);
    expect(a.rto).toBeLessThan(1000);
    expect(a.backoff).toBe(0);
  });

  it('PRR (RFC 6937) keeps data flowing during recovery instead of pausing then bursting', () => {
    const run = (prr: boolean) => {
      const p = established({
        delayMs: 20,
        rate: 50e6,
        a: { prr, cc: 'reno' },
        rcvBuf: 8 << 20,
        sndBuf: 8 << 20,
      });
      const a = p.a.tcb;
      let dropSeq = -1;
      p.drop = (s) => {
        if (
          dropSeq < 0 &&
          s.dir === 'ab' &&
          s.seg.payload.length > 0 &&
          (s.seg.seq - a.iss) >>> 0 > 600_000
        ) {
          dropSeq = s.seg.seq;
          return true;
        }
        return false;
      };
      const data = pattern(6_000_000);
      p.a.snd.write(a, data);
      a.output(p.now);
      p.run(p.now + 3000);
      expect(sha256(p.b.received)).toBe(sha256(data));
      expect([a.fastRetransmits, a.rtoCount]).toEqual([1, 0]);
      const sends = p.segs('ab', (x) => x.seq === dropSeq);
      const rex = sends[1]!.t;
      // New data sent in the first half RTT of recovery, and in the whole recovery.
      const newData = (from: number, to: number) =>
        p
          .segs('ab', (x) => x.payload.length > 0 && ((x.seq - dropSeq) | 0) > 0)
          .filter((x) => x.t > from && x.t <= to).length;
      return { early: newData(rex, rex + 20), recovery: newData(rex, rex + 45) };
    };
    const withPrr = run(true);
    const without = run(false);
    expect(without.early).toBe(0); // RFC 6675 alone: pipe must fall below ssthresh first
    expect(withPrr.early).toBeGreaterThan(20);
    // Over the recovery PRR sends about ssthresh/RecoverFS (½ for Reno) per delivered segment.
    expect(withPrr.recovery).toBeGreaterThan(without.recovery * 0.8);
  });

  it('a lost last segment is repaired by a tail loss probe, well before the RTO', () => {
    const run = (tlp: boolean) => {
      const p = established({ delayMs: 10, a: { tlp } });
      const a = p.a.tcb;
      const data = pattern(10 * a.mss);
      let dropped = false;
      p.drop = (s) => {
        if (!dropped && s.dir === 'ab' && s.seg.seq === (a.iss + 1 + 9 * a.mss) >>> 0)
          return (dropped = true);
        return false;
      };
      const t0 = p.now;
      p.a.snd.write(a, data);
      a.output(p.now);
      let done = -1;
      for (let i = 0; i < 2000 && done < 0; i++) {
        p.run(p.now + 1);
        if (a.sndUna === a.sndMax) done = p.now - t0;
      }
      expect(dropped).toBe(true);
      expect(sha256(p.b.received)).toBe(sha256(data));
      return { done, rto: a.rtoCount, probes: a.tailLossProbes, cwnd: a.cwnd, ssthresh: a.ssthresh };
    };
    const withTlp = run(true);
    const without = run(false);
    expect(withTlp.probes).toBe(1);
    expect(withTlp.rto).toBe(0);
    expect(without.rto).toBe(1);
    // PTO = 2·SRTT + delayed-ACK time (one segment out) ≈ 80 ms, versus the 200 ms RTO floor.
    expect(withTlp.done).toBeLessThan(150);
    expect(without.done).toBeGreaterThan(200);
    // The probe repaired a real loss: congestion control still reduced (RFC 8985 §7.4).
    expect(withTlp.ssthresh).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('gives up after dataRetries and reports ETIMEDOUT', () => {
    const p = established({ a: { dataRetries: 3, rtoMin: 100 } });
    p.drop = (s) => s.dir === 'ab';
    const pump = p.write(p.a, pattern(1000));
    pump();
    p.run(p.now + 60_000);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
    expect(p.a.events.at(-1)).toBe('closed:ETIMEDOUT');
  });
});

describe('windows, ACKs and buffers', () => {
  it('zero window: the sender probes with backoff until the window reopens, even if the update is lost', () => {
    const p = established({ delayMs: 5, rcvBuf: 64 * 1024 });
    p.b.autoConsume = false;
    const data = pattern(200_000);
    const pump = p.write(p.a, data);
    for (let i = 0; i < 50; i++) {
      pump();
      p.run(p.now + 10);
    }
    expect(received(p.b)).toBeLessThanOrEqual(64 * 1024);
    expect(received(p.b)).toBeGreaterThan(64 * 1024 - 64);
    expect(p.a.tcb.sndWnd).toBe(0);
    const t0 = p.now;
    p.run(t0 + 10_000);
    const probes = p.segs('ab', (s) => s.payload.length === 0 && s.seq === (p.a.tcb.sndUna - 1) >>> 0);
    expect(probes.length).toBeGreaterThanOrEqual(4);
    const pt = probes.map((s) => s.t);
    const gaps = pt.slice(1).map((t, i) => t - pt[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! * 1.5);
    // The application reads everything; the window update is lost; the next probe recovers.
    p.drop = (s) => s.dir === 'ba' && s.seg.window > 0 && s.t < p.now + 1;
    p.b.rcv.consume(received(p.b));
    p.b.tcb.windowOpened(p.now);
    p.flush();
    p.drop = undefined;
    p.b.autoConsume = true;
    const tOpen = p.now;
    while (received(p.b) < data.length && p.now - tOpen < 60_000) {
      pump();
      p.run(p.now + 10);
    }
    expect(sha256(p.b.received)).toBe(sha256(data));
    // Recovered by the next probe, not later.
    expect(p.now - tOpen).toBeLessThan(probes.length > 0 ? 2 * gaps.at(-1)! + 1000 : 60_000);
  });

  it('delayed ACKs: quick ACKs at start, then one ACK per two segments or after 40 ms', () => {
    const p = established({ delayMs: 10, b: { quickAcks: 4, delAckMs: 40 } });
    const a = p.a.tcb;
    // Send one small segment at a time, spaced out: the first 4 are ACKed at once,
    // later ones wait the delayed-ACK timeout.
    const lat: number[] = [];
    for (let i = 0; i < 8; i++) {
      p.a.snd.write(a, pattern(100, i + 1));
      a.output(p.now);
      const t0 = p.now;
      p.log.length = 0;
      p.run(p.now + 200);
      const ack = p.segs('ba', (s) => s.flags === ACK)[0]!;
      lat.push(ack.t - t0);
    }
    expect(lat.slice(0, 4)).toEqual([10, 10, 10, 10]);
    expect(lat.slice(4)).toEqual([50, 50, 50, 50]);
    // Full-sized back-to-back segments: one ACK for every second segment.
    p.log.length = 0;
    p.a.snd.write(a, pattern(a.mss * 10));
    a.output(p.now);
    p.run(p.now + 5);
    p.run(p.now + 20);
    const acks = p.segs('ba', (s) => s.flags === ACK);
    const dataSegs = p.segs('ab', (s) => s.payload.length > 0);
    expect(dataSegs).toHaveLength(10);
    expect(acks).toHaveLength(5);
  });

  it('send and receive buffers stay bounded', () => {
    const p = established({ delayMs: 10, rate: 10e6, sndBuf: 100_000, rcvBuf: 50_000 });
    const a = p.a.tcb;
    // The send buffer refuses what does not fit.
    expect(p.a.snd.write(a, pattern(300_000))).toBe(100_000);
    expect(p.a.snd.write(a, pattern(10))).toBe(0);
    a.output(p.now);
    p.b.autoConsume = false;
    p.run(p.now + 2000);
    // The receiver took exactly its buffer, never more.
    expect(received(p.b)).toBe(50_000);
    expect(p.b.tcb.rcvWnd).toBe(0);
    // The sender's held bytes are still bounded by its buffer.
    expect(a.sndQueued).toBeLessThanOrEqual(100_000);
    p.b.autoConsume = true;
    p.b.rcv.consume(50_000);
    p.b.tcb.windowOpened(p.now);
    p.run(p.now + 2000);
    expect(received(p.b)).toBe(100_000);
    // Room again on the sender once everything is acknowledged.
    expect(a.sndQueued).toBe(0);
    expect(p.a.snd.write(a, pattern(10))).toBe(10);
  });
});
