/**
 * The hooks the MPTCP layer builds on: option injection with priority over SACK, refusing SYNs and
 * SYN/ACKs, a tagged data source whose tags follow retransmissions, a sink that sees subflow
 * sequence numbers and sets the window, bare ACKs, RST with options, loss/RTO notifications.
 */
import { describe, expect, it } from 'vitest';
import type { ByteRing } from '../../../stack/tcp/ring';
import { type OutInfo, type Tcb, type TcbHooks, TcpState } from '../../../stack/tcp/tcb';
import { optionsLength } from '../../../stack/wire/tcp';
import { ACK, RST, SYN, type TcpSegment } from '../../../stack/wire/types';
import { Pair, pattern } from './pair';

const MARK = 253;

/** A source handing out fixed-size chunks, each tagged with its index. */
class ChunkSource {
  private off = 0;
  constructor(
    readonly data: Uint8Array,
    readonly chunk: number,
  ) {}
  available(): number {
    return this.data.length - this.off;
  }
  pull(_t: Tcb, max: number, out: ByteRing): unknown {
    const idx = Math.floor(this.off / this.chunk);
    const end = Math.min((idx + 1) * this.chunk, this.data.length);
    const n = Math.min(max, end - this.off);
    out.push(this.data, this.off, this.off + n);
    this.off += n;
    return { chunk: idx };
  }
}

describe('MPTCP-facing hooks', () => {
  it('outgoing options ride on every segment and take priority over SACK blocks', () => {
    const seen: { kind: OutInfo['kind']; room: number }[] = [];
    const hooks: TcbHooks = {
      outgoing: (_t, seg, room, info) => {
        seen.push({ kind: info.kind, room });
        if (room >= 12) seg.options.push({ kind: 'unknown', type: MARK, data: new Uint8Array(10) });
      },
    };
    const p = new Pair({ hooksA: hooks, hooksB: hooks, delayMs: 5, rate: 20e6 });
    p.connect();
    p.run(100);
    // SYN: MSS 4 + WS 4 + SACK-permitted/timestamps 12 = 20 bytes used, 20 left.
    expect(seen[0]).toEqual({ kind: 'syn', room: 20 });
    expect(seen[1]).toEqual({ kind: 'synack', room: 20 });
    expect(seen[2]).toEqual({ kind: 'ack', room: 28 });
    // Drop one data segment so the receiver has SACK blocks to send.
    let dropped = false;
    p.drop = (s) => {
      if (!dropped && s.dir === 'ab' && s.seg.payload.length > 0 && s.seg.seq - p.a.tcb.iss > 20_000) {
        dropped = true;
        return true;
      }
      return false;
    };
    const data = pattern(100_000);
    expect(p.transfer(p.a, p.b, data, 5000)).toBeGreaterThan(0);
    for (const s of p.log) {
      expect(s.seg.options.some((o) => o.kind === 'unknown' && o.type === MARK)).toBe(true);
      expect(optionsLength(s.seg.options)).toBeLessThanOrEqual(40);
    }
    // Timestamps 12 + ours 12 leave room for one SACK block (4 + 8) only.
    const sacks = p.segs('ba').flatMap((s) => s.seg.options.filter((o) => o.kind === 'sack'));
    expect(sacks.length).toBeGreaterThan(0);
    for (const o of sacks) if (o.kind === 'sack') expect(o.blocks).toHaveLength(1);
    expect(p.a.tcb.rtoCount).toBe(0);
  });

  it('a refused SYN is answered with RST and the connector sees ECONNREFUSED', () => {
    const p = new Pair({ hooksB: { incoming: (_t, seg) => !(seg.flags & SYN) } });
    p.connect();
    p.run(100);
    expect(p.segs('ba').map((s) => s.seg.flags)).toEqual([RST | ACK]);
    expect(p.b.tcb.state).toBe(TcpState.CLOSED);
    expect(p.a.events).toEqual(['closed:ECONNREFUSED']);
  });

  it('a refused SYN/ACK is reset and both ends close', () => {
    const p = new Pair({ hooksA: { incoming: (_t, seg) => (seg.flags & (SYN | ACK)) !== (SYN | ACK) } });
    p.connect();
    p.run(100);
    const rst = p.segs('ab', (s) => (s.flags & RST) !== 0);
    expect(rst).toHaveLength(1);
    expect(p.a.events).toEqual(['closed:EREFUSED']);
    expect(p.b.tcb.state).toBe(TcpState.CLOSED);
  });

  it('source tags stay with their bytes through retransmissions; segments never span chunks', () => {
    const data = pattern(60_000, 4);
    const CH = 5000;
    const tags: { seq: number; len: number; chunk: number; tagSeq: number; tagLen: number; rex: boolean }[] =
      [];
    const hooks: TcbHooks = {
      outgoing: (t, _seg, _room, info) => {
        if ((info.kind === 'data' || info.kind === 'fin') && info.len > 0) {
          tags.push({
            seq: (info.seq - t.iss - 1) >>> 0,
            len: info.len,
            chunk: (info.tag as { chunk: number }).chunk,
            tagSeq: (info.tagSeq - t.iss - 1) >>> 0,
            tagLen: info.tagLen,
            rex: info.retransmit,
          });
        }
      },
    };
    const p = new Pair({ hooksA: hooks, delayMs: 5 });
    const src = new ChunkSource(data, CH);
    p.a.tcb.source = src;
    let drops = 0;
    p.drop = (s) => {
      if (s.dir !== 'ab' || s.seg.payload.length === 0 || s.seg.seq % 7 !== 0 || drops >= 6) return false;
      drops++;
      return true;
    };
    p.connect();
    p.run(5000);
    expect(p.b.received.reduce((n, c) => n + c.length, 0)).toBe(data.length);
    expect(drops).toBeGreaterThan(0);
    const rex = tags.filter((t) => t.rex);
    expect(rex.length).toBeGreaterThanOrEqual(drops);
    for (const t of tags) {
      // The tag is the chunk holding these bytes, and the segment stays inside it…
      expect(t.chunk).toBe(Math.floor(t.seq / CH));
      expect(Math.floor((t.seq + t.len - 1) / CH)).toBe(t.chunk);
      // …and inside the run pulled with that tag (tagSeq, tagLen), which is where a DSS mapping
      // would start and how long it would be.
      expect(t.tagSeq).toBeLessThanOrEqual(t.seq);
      expect(t.seq + t.len).toBeLessThanOrEqual(t.tagSeq + t.tagLen);
      expect(Math.floor(t.tagSeq / CH)).toBe(t.chunk);
    }
    // A retransmission reports the same run as the original transmission.
    for (const r of rex) {
      const orig = tags.find((t) => !t.rex && t.seq === r.seq)!;
      expect([r.tagSeq, r.tagLen, r.chunk]).toEqual([orig.tagSeq, orig.tagLen, orig.chunk]);
    }
  });

  it('the sink sees in-order bytes with their subflow sequence numbers and sets the window', () => {
    const p = new Pair({ delayMs: 5 });
    const got: { seq: number; len: number }[] = [];
    let limit = 30_000;
    let taken = 0;
    p.b.tcb.sink = {
      deliver: (t, data, seq) => {
        got.push({ seq: (seq - t.irs - 1) >>> 0, len: data.length });
        taken += data.length;
      },
      window: () => Math.max(limit - taken, 0),
    };
    p.connect();
    p.run(100);
    let dropped = false;
    p.drop = (s) => {
      if (!dropped && s.dir === 'ab' && s.seg.payload.length > 0 && s.seg.seq - p.a.tcb.iss > 5000) {
        dropped = true;
        return true;
      }
      return false;
    };
    const data = pattern(200_000);
    p.a.snd.write(p.a.tcb, data);
    p.a.tcb.output(p.now);
    p.run(p.now + 300);
    // Contiguous and in order, even across the repaired hole.
    let next = 0;
    for (const g of got) {
      expect(g.seq).toBe(next);
      next += g.len;
    }
    // The advertised window follows the sink: nothing beyond 30 000 bytes was accepted (the last
    // few bytes below the window-scale granularity are not advertised).
    expect(next).toBeLessThanOrEqual(30_000);
    expect(next).toBeGreaterThan(30_000 - (1 << p.b.tcb.rcvWscale));
    const maxEdge = Math.max(
      ...p
        .segs('ba', (x) => !(x.flags & SYN))
        .map((s) => ((s.seg.ack - p.b.tcb.rcvNxt) | 0) + (s.seg.window << p.b.tcb.rcvWscale)),
    );
    expect(maxEdge).toBeLessThanOrEqual(1 << p.b.tcb.rcvWscale);
    limit = 200_000;
    p.b.tcb.windowOpened(p.now);
    p.run(p.now + 2000);
    expect(got.reduce((n, g) => n + g.len, 0)).toBe(200_000);
  });

  it('sendAck, abort with options, and loss/RTO notifications', () => {
    const events: string[] = [];
    const p = new Pair({
      hooksA: {
        onLoss: (_t, seq) => events.push(`loss:${seq}`),
        onRto: (_t, backoff) => events.push(`rto:${backoff}`),
        onAcked: (_t, n) => events.push(`acked:${n}`),
      },
    });
    p.connect();
    p.run(100);
    p.a.tcb.sendAck(p.now);
    const out = p.a.tcb.takeOutput();
    expect(out).toHaveLength(1);
    expect(out[0]!.flags).toBe(ACK);
    expect(out[0]!.payload.length).toBe(0);
    // Lose everything for a while: RTO notifications with growing backoff.
    p.drop = (s) => s.dir === 'ab';
    p.a.snd.write(p.a.tcb, pattern(3000));
    p.a.tcb.output(p.now);
    p.run(p.now + 1500);
    // RTO 200 ms (floor), then 400, 800: timeouts at +200, +600, +1400.
    expect(events.filter((e) => e.startsWith('rto:'))).toEqual(['rto:1', 'rto:2', 'rto:3']);
    p.drop = undefined;
    p.run(p.now + 3000);
    expect(events.some((e) => e.startsWith('acked:'))).toBe(true);
    const opts: TcpSegment['options'] = [{ kind: 'unknown', type: MARK, data: new Uint8Array([7]) }];
    p.a.tcb.abort(p.now, opts);
    const rst = p.a.tcb.takeOutput();
    expect(rst[0]!.flags & RST).toBe(RST);
    expect(rst[0]!.options).toEqual(opts);
  });
});

describe('live congestion-control switch and coupled view', () => {
  it('swaps the algorithm keeping cwnd/ssthresh; the group lists the subflow itself', () => {
    const processed: number[] = [];
    const p = new Pair({ a: { cc: 'reno' }, hooksA: { processed: (_t, seg) => processed.push(seg.flags) } });
    p.connect();
    p.run(100);
    expect(processed.length).toBeGreaterThan(0);
    const t = p.a.tcb;
    expect(t.cc.name).toBe('reno');
    const before = t.cwnd;
    t.setCongestionControl('cubic');
    expect(t.cc.name).toBe('cubic');
    expect(t.cwnd).toBe(before);
    expect([...t.ccGroup.subflows()]).toEqual([t]);
    expect(t.active).toBe(true);
    const data = pattern(100_000);
    expect(p.transfer(p.a, p.b, data, 3000)).toBeGreaterThan(0);
  });
});
