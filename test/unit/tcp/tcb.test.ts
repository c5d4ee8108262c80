import { describe, expect, it } from 'vitest';
import { TcpState } from '../../../stack/tcp/tcb';
import { ACK, FIN, RST, SYN } from '../../../stack/wire/types';
import { concat, Pair, pattern, received, sha256 } from './pair';

describe('handshake', () => {
  it('active/passive open negotiates MSS, window scale, SACK and timestamps', () => {
    const p = new Pair({ a: { mss: 1400 }, b: { mss: 1200 } });
    p.connect();
    p.run(100);
    expect(p.a.tcb.state).toBe(TcpState.ESTABLISHED);
    expect(p.b.tcb.state).toBe(TcpState.ESTABLISHED);
    expect(p.a.events).toEqual(['established']);
    expect(p.b.events).toEqual(['established']);
    const syn = p.segs('ab', (s) => (s.flags & SYN) !== 0)[0]!.seg;
    expect(syn.options.map((o) => o.kind)).toEqual(['mss', 'wscale', 'sackPermitted', 'timestamps']);
    const synack = p.segs('ba', (s) => (s.flags & (SYN | ACK)) === (SYN | ACK))[0]!.seg;
    expect(synack.ack).toBe(0x1001);
    expect(synack.seq).toBe(0xfffff000);
    for (const t of [p.a.tcb, p.b.tcb]) {
      expect(t.tsOn).toBe(true);
      expect(t.sackOn).toBe(true);
      expect(t.wsOn).toBe(true);
      expect(t.rcvWscale).toBe(5); // 1 MiB >> 5 < 65536
    }
    // Send MSS: the smaller of both MSS values minus 12 bytes of timestamps.
    expect(p.a.tcb.mss).toBe(1200 - 12);
    expect(p.b.tcb.mss).toBe(1200 - 12);
    // Three segments, and the SYN RTT sample (20 ms) seeds srtt.
    expect(p.log.length).toBe(3);
    expect(p.a.tcb.srtt).toBe(20);
  });

  it('a SYN without options falls back to MSS 536 and no extensions', () => {
    const p = new Pair({ a: { windowScaling: false, sack: false, timestamps: false } });
    p.connect();
    p.run(100);
    const syn = p.segs('ab', (s) => (s.flags & SYN) !== 0)[0]!.seg;
    expect(syn.options.map((o) => o.kind)).toEqual(['mss']);
    const synack = p.segs('ba', (s) => (s.flags & SYN) !== 0)[0]!.seg;
    expect(synack.options.map((o) => o.kind)).toEqual(['mss']);
    expect(p.b.tcb.tsOn || p.b.tcb.sackOn || p.b.tcb.wsOn).toBe(false);
    expect(p.b.tcb.state).toBe(TcpState.ESTABLISHED);
  });

  it('simultaneous open reaches ESTABLISHED on both sides', () => {
    const p = new Pair();
    p.a.tcb.connect(0);
    p.b.tcb.connect(0);
    p.run(500);
    expect(p.a.tcb.state).toBe(TcpState.ESTABLISHED);
    expect(p.b.tcb.state).toBe(TcpState.ESTABLISHED);
    expect(p.a.tcb.sndUna).toBe(p.b.tcb.rcvNxt);
    expect(p.b.tcb.sndUna).toBe(p.a.tcb.rcvNxt);
    // Both went through SYN_RECEIVED: each sent a SYN and a SYN/ACK.
    expect(p.segs('ab', (s) => (s.flags & (SYN | ACK)) === (SYN | ACK)).length).toBe(1);
    expect(p.segs('ba', (s) => (s.flags & (SYN | ACK)) === (SYN | ACK)).length).toBe(1);
    const data = pattern(5000);
    expect(p.transfer(p.a, p.b, data, 2000)).toBeGreaterThan(0);
    expect(concat(p.b.received)).toEqual(data);
  });

  it('a lost SYN is retransmitted with exponential backoff, then gives up', () => {
    const p = new Pair({ a: { synRetries: 3, rtoInitial: 1000 } });
    p.drop = (s) => s.dir === 'ab';
    p.a.tcb.connect(0);
    p.run(60_000);
    const syns = p.segs('ab', (s) => (s.flags & SYN) !== 0).map((s) => s.t);
    expect(syns).toEqual([0, 1000, 3000, 7000]);
    expect(p.a.events).toEqual(['closed:ETIMEDOUT']);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
  });

  it('RST answering the SYN refuses the connection', () => {
    const p = new Pair();
    p.a.tcb.connect(0);
    p.flush();
    const syn = p.log[0]!.seg;
    p.a.tcb.input(
      {
        srcPort: 2000,
        dstPort: 1000,
        seq: 0,
        ack: (syn.seq + 1) >>> 0,
        flags: RST | ACK,
        window: 0,
        checksum: 0,
        urgent: 0,
        options: [],
        payload: new Uint8Array(0),
      },
      5,
    );
    expect(p.a.events).toEqual(['closed:ECONNREFUSED']);
  });
});

describe('data and close', () => {
  it('moves 2 MB both ways intact', () => {
    const p = new Pair({ delayMs: 5, rate: 100e6 });
    p.connect();
    p.run(50);
    const d1 = pattern(2_000_000, 7);
    const d2 = pattern(2_000_000, 9);
    const pa = p.write(p.a, d1);
    const pb = p.write(p.b, d2);
    for (let i = 0; i < 400 && (received(p.b) < d1.length || received(p.a) < d2.length); i++) {
      pa();
      pb();
      p.run(p.now + 5);
    }
    expect(sha256(p.b.received)).toBe(sha256(d1));
    expect(sha256(p.a.received)).toBe(sha256(d2));
    p.run(p.now + 100);
    // No loss, so no retransmission beyond (speculative) tail loss probes.
    expect(p.a.tcb.retransmits - p.a.tcb.tailLossProbes).toBeLessThanOrEqual(0);
    expect(p.b.tcb.retransmits - p.b.tcb.tailLossProbes).toBeLessThanOrEqual(0);
    expect(p.a.tcb.fastRetransmits + p.a.tcb.rtoCount + p.b.tcb.fastRetransmits + p.b.tcb.rtoCount).toBe(0);
    expect(p.a.tcb.stats().bytesAcked).toBe(d1.length);
  });

  it('half-close: a finishes, b keeps sending, then both close; a lingers in TIME_WAIT for 2MSL', () => {
    const p = new Pair({ a: { timeWaitMs: 2000 } });
    p.connect();
    p.run(50);
    p.a.tcb.close(p.now);
    p.run(p.now + 100);
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_2);
    expect(p.b.tcb.state).toBe(TcpState.CLOSE_WAIT);
    expect(p.b.events).toContain('peerfin');
    const data = pattern(300_000, 3);
    expect(p.transfer(p.b, p.a, data, 5000)).toBeGreaterThan(0);
    expect(sha256(p.a.received)).toBe(sha256(data));
    p.b.tcb.close(p.now);
    const tClose = p.now;
    p.run(p.now + 100);
    expect(p.b.tcb.state).toBe(TcpState.CLOSED);
    expect(p.b.events.at(-1)).toBe('closed');
    expect(p.a.tcb.state).toBe(TcpState.TIME_WAIT);
    expect(p.a.events.at(-1)).toBe('closed');
    p.run(tClose + 1900);
    expect(p.a.tcb.state).toBe(TcpState.TIME_WAIT);
    p.run(tClose + 2100);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
    expect(p.a.tcb.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('simultaneous close goes through CLOSING', () => {
    const p = new Pair({ a: { timeWaitMs: 1000 }, b: { timeWaitMs: 1000 } });
    p.connect();
    p.run(50);
    p.a.tcb.close(p.now);
    p.b.tcb.close(p.now);
    p.flush();
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_1);
    p.run(p.now + 15);
    expect(p.a.tcb.state).toBe(TcpState.CLOSING);
    p.run(p.now + 100);
    expect(p.a.tcb.state).toBe(TcpState.TIME_WAIT);
    expect(p.b.tcb.state).toBe(TcpState.TIME_WAIT);
    p.run(p.now + 2000);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
    expect(p.b.tcb.state).toBe(TcpState.CLOSED);
  });

  it('a lost last ACK: the retransmitted FIN is re-ACKed from TIME_WAIT', () => {
    const p = new Pair({ a: { timeWaitMs: 10_000 } });
    p.connect();
    p.run(50);
    p.b.tcb.close(p.now); // b closes first: b FIN_WAIT, a CLOSE_WAIT
    p.run(p.now + 100);
    p.a.tcb.close(p.now);
    let dropped = 0;
    p.drop = (s) => s.dir === 'ba' && s.seg.flags === ACK && dropped++ === 0;
    p.run(p.now + 3000);
    expect(dropped).toBeGreaterThan(0);
    expect(p.a.tcb.state).toBe(TcpState.CLOSED);
    expect(p.a.events.at(-1)).toBe('closed');
    expect(p.b.tcb.state).toBe(TcpState.TIME_WAIT);
    expect(p.segs('ab', (s) => (s.flags & FIN) !== 0).length).toBe(2);
  });
});

describe('FIN details', () => {
  it('the FIN rides on the last data segment; a lost FIN is retransmitted', () => {
    const p = new Pair({ a: { timeWaitMs: 500 } });
    p.connect();
    p.run(100);
    // Lose the first FIN (with its data): the retransmission carries data and FIN again.
    let dropped = false;
    p.drop = (s) => {
      if (!dropped && (s.seg.flags & FIN) !== 0) return (dropped = true);
      return false;
    };
    p.a.snd.write(p.a.tcb, pattern(3000));
    p.a.tcb.close(p.now);
    p.flush();
    const fins = p.segs('ab', (s) => (s.flags & FIN) !== 0);
    expect(fins).toHaveLength(1);
    expect(fins[0]!.seg.payload.length).toBe(3000 - 1448 * 2);
    expect(dropped).toBe(true);
    p.run(p.now + 2000);
    const again = p.segs('ab', (s) => (s.flags & FIN) !== 0);
    expect(again).toHaveLength(2);
    expect(again[1]!.seg.seq).toBe(again[0]!.seg.seq);
    expect(again[1]!.seg.payload.length).toBe(again[0]!.seg.payload.length);
    expect(received(p.b)).toBe(3000);
    expect(p.b.tcb.state).toBe(TcpState.CLOSE_WAIT);
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_2);
  });

  it('close() with a closed peer window waits: the FIN follows the data', () => {
    const p = new Pair({ delayMs: 5, rcvBuf: 16 * 1024 });
    p.connect();
    p.run(100);
    p.b.autoConsume = false;
    const data = pattern(40_000);
    p.a.snd.write(p.a.tcb, data);
    p.a.tcb.close(p.now);
    p.run(p.now + 1000);
    expect(p.a.tcb.state).toBe(TcpState.FIN_WAIT_1);
    expect(p.segs('ab', (s) => (s.flags & FIN) !== 0)).toHaveLength(0);
    for (let i = 0; i < 100 && received(p.b) < data.length; i++) {
      p.b.rcv.consume(p.b.rcv.unconsumed);
      p.b.tcb.windowOpened(p.now);
      p.run(p.now + 500);
    }
    expect(sha256(p.b.received)).toBe(sha256(data));
    p.run(p.now + 100);
    expect(p.b.tcb.state).toBe(TcpState.CLOSE_WAIT);
    expect(p.b.events).toContain('peerfin');
  });
});
